package main

import (
	"bufio"
	"os"
	"regexp"
	"sort"
	"testing"

	"github.com/ledgersync/ledgersync/pkg/config"
)

// allConfigs returns every config struct any target reads.
func allConfigs() []any {
	a := &app{}
	cfgs := []any{&a.run}
	for _, m := range modules {
		if m.configs != nil {
			cfgs = append(cfgs, m.configs(a)...)
		}
	}
	return cfgs
}

func TestEnvExampleListsEveryVariable(t *testing.T) {
	f, err := os.Open("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	documented := map[string]bool{}
	line := regexp.MustCompile(`^([A-Z][A-Z0-9_]*)=`)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := line.FindStringSubmatch(sc.Text()); m != nil {
			documented[m[1]] = true
		}
	}
	read := map[string]bool{}
	for _, v := range config.Variables(allConfigs()...) {
		read[v] = true
		if !documented[v] {
			t.Errorf("%s is read by syncd but missing from .env.example", v)
		}
	}
	var stale []string
	for v := range documented {
		if !read[v] {
			stale = append(stale, v)
		}
	}
	sort.Strings(stale)
	for _, v := range stale {
		t.Errorf("%s is in .env.example but no target reads it", v)
	}
}
