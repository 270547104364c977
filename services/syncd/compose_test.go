package main

import (
	"os"
	"regexp"
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
		// What this container's command reads: a variable another
		// target reads is a mistake here, and an address left to its
		// loopback default would point the container at itself.
		reads, usesNATS := streamsVariables(), true
		if svc.Command[0] == "run" {
			target := strings.TrimPrefix(svc.Command[1], "-target=")
			reads, usesNATS = targetVariables(t, target), false
			order, _, _ := resolveTargets(target)
			for _, m := range order {
				usesNATS = usesNATS || m.name == "nats"
			}
		}
		for v := range svc.Environment {
			if !reads[v] {
				t.Errorf("%s sets %s, which %v does not read", name, v, svc.Command)
			}
		}
		if usesNATS && svc.Environment["NATS_URL"] == "" {
			t.Errorf("%s: NATS_URL not set", name)
		}
		if reads["CLICKHOUSE_ADDR"] && svc.Environment["CLICKHOUSE_ADDR"] == "" {
			t.Errorf("%s: CLICKHOUSE_ADDR not set (its default is the container itself)", name)
		}
	}
	for _, m := range modules {
		if m.public && m.inAll && !running[m.name] {
			t.Errorf("target %s runs in no compose service", m.name)
		}
	}
}

// TestComposeDemoEnvFile: the demo's env file sets only variables syncd
// reads, and with it (plus the key the documented command makes) every
// variable the compose file requires is given.
func TestComposeDemoEnvFile(t *testing.T) {
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	envFile, err := os.ReadFile("../../deploy/compose/demo.env")
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, v := range config.Variables(allConfigs()...) {
		known[v] = true
	}
	given := map[string]bool{}
	for _, line := range strings.Split(string(envFile), "\n") {
		name, _, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		if !known[name] {
			t.Errorf("demo.env sets %s, which syncd does not read", name)
		}
		given[name] = true
	}
	// The documented command line (in both files' headers) sets the rest.
	command := regexp.MustCompile(`(?m)^#\s+(.*?)docker compose --profile demo --env-file deploy/compose/demo.env up --build`)
	m := command.FindStringSubmatch(string(raw))
	if m == nil {
		t.Fatal("docker-compose.yml does not document the demo command")
	}
	if !strings.Contains(string(envFile), strings.TrimSpace(m[0][1:])) {
		t.Errorf("demo.env documents another command than docker-compose.yml: %q", m[0])
	}
	for _, assign := range regexp.MustCompile(`\b([A-Z_]+)=`).FindAllStringSubmatch(m[1], -1) {
		given[assign[1]] = true
	}
	for _, ref := range regexp.MustCompile(`\$\{([A-Z_]+):\?`).FindAllStringSubmatch(string(raw), -1) {
		if !given[ref[1]] {
			t.Errorf("the compose file requires %s, which neither demo.env nor the documented command sets", ref[1])
		}
	}
	var cf composeFile
	if err := yaml.Unmarshal(raw, &cf); err != nil {
		t.Fatal(err)
	}
	for _, svc := range []string{"sim", "demo-connection"} {
		if _, ok := cf.Services[svc]; !ok {
			t.Errorf("the demo profile has no %s service", svc)
		}
	}
}
