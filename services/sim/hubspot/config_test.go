package hubspot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/ledgersync/ledgersync/pkg/config"
)

func TestLoadConfigDefaults(t *testing.T) {
	cfg, err := LoadConfig(context.Background(), envconfig.MapLookuper(map[string]string{}))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Addr: "127.0.0.1:8091", Token: "sim-token", ClientID: "sim-hs-client", ClientSecret: "sim-hs-secret",
		PortalID: 4000001, AppID: 5000001, AppName: "ledgersync", Throttle: true, Seed: "empty", AccessTokenTTL: 30 * time.Minute,
		BurstLimit: 110, BurstWindow: 10 * time.Second, DailyLimit: 250000, SearchPerSecond: 5,
		SearchMaxFilterGroups: 5, SearchMaxFiltersPerGroup: 6, SearchMaxFilters: 18, WebhookMode: "normal",
		WebhookBatchSize: 100, WebhookFlushInterval: 250 * time.Millisecond, WebhookMaxAttempts: 10,
		WebhookRetryDelay: time.Second, WebhookRetry4xx: true, WebhookTimeout: 5 * time.Second}
	if cfg != want {
		t.Fatalf("defaults:\n got %+v\nwant %+v", cfg, want)
	}
	if !cfg.ThrottleOn() {
		t.Fatal("throttle defaults to on")
	}
	if DefaultConfig() != want {
		t.Fatalf("DefaultConfig differs from the loaded defaults")
	}
}

func TestLoadConfigValues(t *testing.T) {
	tests := []struct {
		env          map[string]string
		throttle     bool
		retry4xx     bool
		seed         string
		seedsTheDemo bool
	}{
		{map[string]string{"SIM_HUBSPOT_THROTTLE": "off", "SIM_SEED": "demo"}, false, true, "demo", true},
		{map[string]string{"SIM_HUBSPOT_THROTTLE": "OFF", "SIM_SEED": "empty"}, false, true, "empty", false},
		{map[string]string{"SIM_HUBSPOT_THROTTLE": "on", "SIM_SEED": ""}, true, true, "", false},
		{map[string]string{"SIM_HUBSPOT_THROTTLE": "false"}, false, true, "empty", false},
		{map[string]string{"SIM_HUBSPOT_THROTTLE": "1"}, true, true, "empty", false},
		{map[string]string{"SIM_HUBSPOT_THROTTLE": "0", "SIM_HUBSPOT_WEBHOOK_RETRY_4XX": "false"}, false, false, "empty", false},
		{map[string]string{"SIM_HUBSPOT_WEBHOOK_RETRY_4XX": "off"}, true, false, "empty", false},
		{map[string]string{"SIM_HUBSPOT_WEBHOOK_RETRY_4XX": "true"}, true, true, "empty", false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.env), func(t *testing.T) {
			cfg, err := LoadConfig(context.Background(), envconfig.MapLookuper(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.ThrottleOn() != tc.throttle || cfg.WebhookRetry4xx.On() != tc.retry4xx || cfg.Seed != tc.seed {
				t.Fatalf("throttle %v retry4xx %v seed %q; want %v %v %q",
					cfg.ThrottleOn(), cfg.WebhookRetry4xx.On(), cfg.Seed, tc.throttle, tc.retry4xx, tc.seed)
			}
			s, err := New(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			s.mu.RLock()
			n := len(s.st.objects["contacts"].records)
			s.mu.RUnlock()
			if got := n > 0; got != tc.seedsTheDemo {
				t.Fatalf("portal has %d contacts; demo seed expected: %v", n, tc.seedsTheDemo)
			}
		})
	}
}

func TestLoadConfigErrors(t *testing.T) {
	tests := []struct {
		env      map[string]string
		wantVars []string // every offending variable, sorted
		wantMsg  string
	}{
		{map[string]string{"SIM_HUBSPOT_THROTTLE": "yes"}, []string{"SIM_HUBSPOT_THROTTLE"}, `"yes" is not on or off`},
		{map[string]string{"SIM_HUBSPOT_WEBHOOK_RETRY_4XX": "maybe"}, []string{"SIM_HUBSPOT_WEBHOOK_RETRY_4XX"}, "not on or off"},
		{map[string]string{"SIM_SEED": "big"}, []string{"SIM_SEED"}, `SIM_SEED: "big" is not empty or demo`},
		{map[string]string{"SIM_HUBSPOT_WEBHOOK_URL": "not a url"}, []string{"SIM_HUBSPOT_WEBHOOK_URL"}, "http(s)"},
		{map[string]string{"SIM_HUBSPOT_WEBHOOK_MODE": "random"}, []string{"SIM_HUBSPOT_WEBHOOK_MODE"}, "random"},
		{map[string]string{"SIM_HUBSPOT_PORTAL_ID": "abc"}, []string{"SIM_HUBSPOT_PORTAL_ID"}, `"abc" is not a valid int64`},
		{map[string]string{"SIM_HUBSPOT_BURST_LIMIT": "0"}, []string{"SIM_HUBSPOT_BURST_LIMIT"}, "positive"},
		{map[string]string{"SIM_HUBSPOT_WEBHOOK_BATCH_SIZE": "101"}, []string{"SIM_HUBSPOT_WEBHOOK_BATCH_SIZE"}, "between 1 and 100"},
		{map[string]string{"SIM_HUBSPOT_ADDR": "8091"}, []string{"SIM_HUBSPOT_ADDR"}, "host:port"},
		{map[string]string{"SIM_HUBSPOT_CLIENT_SECRET": ""}, []string{"SIM_HUBSPOT_CLIENT_SECRET"}, "must not be empty"},
		// Every bad variable is named at once, decoding and rule problems alike.
		{map[string]string{
			"SIM_HUBSPOT_THROTTLE":             "maybe",
			"SIM_SEED":                         "full",
			"SIM_HUBSPOT_PORTAL_ID":            "-1",
			"SIM_HUBSPOT_BURST_WINDOW":         "soon",
			"SIM_HUBSPOT_SEARCH_PER_SECOND":    "0",
			"SIM_HUBSPOT_WEBHOOK_MAX_ATTEMPTS": "0",
			"SIM_HUBSPOT_TOKEN":                "",
		}, []string{"SIM_HUBSPOT_BURST_WINDOW", "SIM_HUBSPOT_PORTAL_ID", "SIM_HUBSPOT_SEARCH_PER_SECOND", "SIM_HUBSPOT_THROTTLE",
			"SIM_HUBSPOT_TOKEN", "SIM_HUBSPOT_WEBHOOK_MAX_ATTEMPTS", "SIM_SEED"}, "7 problem(s)"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.wantVars, ","), func(t *testing.T) {
			_, err := LoadConfig(context.Background(), envconfig.MapLookuper(tc.env))
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *config.Error", err)
			}
			if got := ce.Variables(); fmt.Sprint(got) != fmt.Sprint(tc.wantVars) {
				t.Fatalf("named %v, want %v (%v)", got, tc.wantVars, err)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("message %q lacks %q", err, tc.wantMsg)
			}
		})
	}
}

func TestNewRefusesInvalidConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Token = ""
	cfg.Seed = "full"
	cfg.WebhookBatchSize = 0
	_, err := New(cfg, nil)
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a *config.Error", err)
	}
	want := []string{"SIM_HUBSPOT_TOKEN", "SIM_HUBSPOT_WEBHOOK_BATCH_SIZE", "SIM_SEED"}
	if got := ce.Variables(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("named %v, want %v", got, want)
	}
	if _, err := New(Config{}, nil); err == nil {
		t.Fatal("New must refuse the zero Config")
	}
}

// TestConfigThroughSharedLoader checks that the Config works as a nested
// block of a bigger struct (as in services/sim and syncd): config.Load
// finds its variables and runs its Validate.
func TestConfigThroughSharedLoader(t *testing.T) {
	var outer struct {
		HubSpot Config
	}
	env := envconfig.MapLookuper(map[string]string{"SIM_HUBSPOT_THROTTLE": "off", "SIM_HUBSPOT_WEBHOOK_MODE": "loud"})
	err := config.Load(context.Background(), env, &outer)
	var ce *config.Error
	if !errors.As(err, &ce) || fmt.Sprint(ce.Variables()) != "[SIM_HUBSPOT_WEBHOOK_MODE]" {
		t.Fatalf("err = %v, want SIM_HUBSPOT_WEBHOOK_MODE named", err)
	}
	if outer.HubSpot.ThrottleOn() {
		t.Fatal("SIM_HUBSPOT_THROTTLE=off not applied")
	}
	vars := config.Variables(&outer)
	if len(vars) == 0 || vars[0] != "SIM_HUBSPOT_ADDR" {
		t.Fatalf("config.Variables = %v", vars)
	}
}
