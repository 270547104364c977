package config_test

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

type serviceConfig struct {
	Token    config.Secret `env:"SVC_TOKEN, required"`
	Workers  int           `env:"SVC_WORKERS, default=4"`
	Interval time.Duration `env:"SVC_INTERVAL, default=1s"`
	NATS     config.NATS   `env:", prefix=NATS_"`
}

type chBlock struct {
	ClickHouse config.ClickHouse `env:", prefix=CLICKHOUSE_"`
}

func TestLoadNamesEveryOffendingVariable(t *testing.T) {
	env := envconfig.MapLookuper(map[string]string{
		"SVC_WORKERS":         "many",
		"SVC_INTERVAL":        "soon",
		"NATS_REPLICAS":       "2",
		"CLICKHOUSE_ADDR":     "localhost",
		"CLICKHOUSE_DATABASE": "prod; DROP TABLE x",
	})
	var svc serviceConfig
	var ch chBlock
	err := config.Load(context.Background(), env, &svc, &ch)
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want *config.Error", err)
	}
	want := []string{"CLICKHOUSE_ADDR", "CLICKHOUSE_DATABASE", "NATS_REPLICAS", "SVC_INTERVAL", "SVC_TOKEN", "SVC_WORKERS"}
	if got := ce.Variables(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("named %v, want %v", got, want)
	}
	for _, frag := range []string{"SVC_TOKEN: required but not set", `SVC_WORKERS: "many" is not a valid int`, "NATS_REPLICAS: 2 is not 1, 3 or 5"} {
		if !strings.Contains(err.Error(), frag) {
			t.Errorf("message %q lacks %q", err, frag)
		}
	}
}

func TestLoadFillsDefaultsAndPrefixedBlocks(t *testing.T) {
	env := envconfig.MapLookuper(map[string]string{"SVC_TOKEN": "pat-na1-abc", "NATS_URL": "nats://n1:4222", "CLICKHOUSE_PASSWORD": "pw"})
	var svc serviceConfig
	var ch chBlock
	if err := config.Load(context.Background(), env, &svc, &ch); err != nil {
		t.Fatal(err)
	}
	if svc.Token.Reveal() != "pat-na1-abc" || svc.Workers != 4 || svc.Interval != time.Second {
		t.Fatalf("service config %+v", svc)
	}
	if svc.NATS.URL != "nats://n1:4222" || svc.NATS.Replicas != 1 || svc.NATS.ConnectTimeout != 5*time.Second {
		t.Fatalf("nats block %+v", svc.NATS)
	}
	if ch.ClickHouse.Addr != "127.0.0.1:9000" || ch.ClickHouse.Database != "ledgersync" || ch.ClickHouse.Password.Reveal() != "pw" {
		t.Fatalf("clickhouse block %+v", ch.ClickHouse)
	}
	if s := fmt.Sprintf("%v %+v %#v", svc.Token, svc, svc.Token); strings.Contains(s, "pat-na1-abc") {
		t.Fatalf("secret printed: %s", s)
	}
}

func TestSwitchAcceptsOnOffOnly(t *testing.T) {
	var c struct {
		A config.Switch `env:"A"`
		B config.Switch `env:"B, default=on"`
		C config.Switch `env:"C"`
	}
	err := config.Load(context.Background(), envconfig.MapLookuper(map[string]string{"A": "off", "C": "maybe"}), &c)
	if err == nil || !strings.Contains(err.Error(), `C: "maybe" is not on or off`) {
		t.Fatalf("got %v", err)
	}
	if err := config.Load(context.Background(), envconfig.MapLookuper(map[string]string{"A": "off"}), &c); err != nil {
		t.Fatal(err)
	}
	if c.A.On() || !c.B.On() {
		t.Fatalf("%+v", c)
	}
}
