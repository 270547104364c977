package main

import (
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/ledgersync/ledgersync/pkg/config"
)

type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Healthcheck struct {
			Test    []string `yaml:"test"`
			Disable bool     `yaml:"disable"`
		} `yaml:"healthcheck"`
		DependsOn map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
	} `yaml:"services"`
}

// TestComposeUsesRealTargetsAndVariables keeps docker-compose.yml honest: no
// engine runs here, so the file is checked against the binary instead.
func TestComposeUsesRealTargetsAndVariables(t *testing.T) {
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFile
	if err := yaml.Unmarshal(raw, &cf); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	known := map[string]bool{}
	for _, v := range config.Variables(allConfigs()...) {
		known[v] = true
	}
	running := map[string]bool{}
	for name, svc := range cf.Services {
		for dep := range svc.DependsOn {
			if _, ok := cf.Services[dep]; !ok {
				t.Errorf("%s depends on unknown service %s", name, dep)
			}
		}
		if svc.Image != "ledgersync/syncd:local" {
			continue
		}
		if len(svc.Command) == 0 {
			t.Errorf("%s: no command", name)
			continue
		}
		switch svc.Command[0] {
		case "run":
			target := ""
			for _, a := range svc.Command[1:] {
				if v, ok := strings.CutPrefix(a, "-target="); ok {
					target = v
				}
			}
			order, embedded, err := resolveTargets(target)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if embedded {
				t.Errorf("%s: -target=all embeds NATS; compose runs one target per container", name)
			}
			for _, m := range order {
				running[m.name] = true
			}
			if !svc.Healthcheck.Disable && strings.Join(svc.Healthcheck.Test, " ") != "CMD /usr/local/bin/syncd probe ready" {
				t.Errorf("%s: healthcheck %v, want syncd probe ready", name, svc.Healthcheck.Test)
			}
		case "streams":
			if len(svc.Command) < 2 || svc.Command[1] != "ensure" {
				t.Errorf("%s: streams %v", name, svc.Command[1:])
			}
		default:
			t.Errorf("%s: unknown syncd command %q", name, svc.Command[0])
		}
		for v := range svc.Environment {
			if !known[v] {
				t.Errorf("%s sets %s, which syncd does not read", name, v)
			}
		}
		if svc.Environment["NATS_URL"] == "" {
			t.Errorf("%s: NATS_URL not set", name)
		}
	}
	for _, m := range modules {
		if m.public && m.inAll && !running[m.name] {
			t.Errorf("target %s runs in no compose service", m.name)
		}
	}
}
