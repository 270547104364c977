package hubspot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ledgersync/ledgersync/pkg/config"
)

// nodeSDKVersion is the exact @hubspot/api-client the test installs; it is
// pinned (with every dependency) by testdata/nodesdk/package.json and
// package-lock.json. To move to a newer client, change both there (npm
// install --save-exact @hubspot/api-client@X in a scratch copy of the
// directory, then copy the two files back) and this constant.
const nodeSDKVersion = "13.5.0"

// TestOfficialNodeClient points HubSpot's official Node client
// (@hubspot/api-client) at the simulator and runs its main operations
// (testdata/nodesdk/smoke.cjs).
//
// Run it with SIM_HUBSPOT_NODE_COMPAT=1 (make test sets it): the test then
// installs the pinned client from the npm registry into a temporary
// directory with `npm ci`, and fails when node or npm is missing or the
// install fails:
//
//	SIM_HUBSPOT_NODE_COMPAT=1 go test ./services/sim/hubspot/ -run OfficialNode
//
// SIM_HUBSPOT_NODE_MODULES=<dir> instead uses an existing node_modules
// holding @hubspot/api-client (no install). Without either it is skipped.
func TestOfficialNodeClient(t *testing.T) {
	modules := os.Getenv("SIM_HUBSPOT_NODE_MODULES")
	var compat config.Switch
	if err := compat.EnvDecode(os.Getenv("SIM_HUBSPOT_NODE_COMPAT")); err != nil {
		t.Fatalf("SIM_HUBSPOT_NODE_COMPAT: %v", err)
	}
	if modules == "" && !compat.On() {
		t.Skip("official Node client test not requested: set SIM_HUBSPOT_NODE_COMPAT=1 (installs @hubspot/api-client@" +
			nodeSDKVersion + " from npm; needs node and npm; make test sets it) or SIM_HUBSPOT_NODE_MODULES=<a node_modules holding @hubspot/api-client>")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("the official Node client test needs node (>= 18) on PATH: %v", err)
	}
	checkNodeVersion(t, node)

	if modules == "" {
		modules = installNodeSDK(t)
	} else {
		v, err := installedSDKVersion(modules)
		if err != nil {
			t.Fatalf("SIM_HUBSPOT_NODE_MODULES=%s: %v", modules, err)
		}
		if v != nodeSDKVersion {
			t.Logf("SIM_HUBSPOT_NODE_MODULES holds @hubspot/api-client %s (the pinned version is %s)", v, nodeSDKVersion)
		}
	}

	script, err := filepath.Abs(filepath.Join("testdata", "nodesdk", "smoke.cjs"))
	if err != nil {
		t.Fatal(err)
	}
	e := serveEnv(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script, e.base, e.token)
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK") {
		t.Fatalf("official Node client (@hubspot/api-client) against the simulator failed: %v\n%s", err, out)
	}
}

// installNodeSDK installs the pinned client into a temporary directory
// (never into the source tree) and returns its node_modules.
func installNodeSDK(t *testing.T) string {
	t.Helper()
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Fatalf("SIM_HUBSPOT_NODE_COMPAT is set but npm is not on PATH (needed to install @hubspot/api-client@%s): %v", nodeSDKVersion, err)
	}
	dir := t.TempDir()
	for _, f := range []string{"package.json", "package-lock.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", "nodesdk", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// npm ci installs exactly what the lockfile pins (integrity-checked);
	// --prefer-offline reuses npm's cache when it has the tarballs. A cold
	// install takes about 12 s here; the short retry back-off makes an
	// unreachable registry fail in seconds instead of npm's default 70.
	const installTimeout = 60 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), installTimeout)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, npm, "ci", "--prefer-offline", "--ignore-scripts", "--no-audit", "--no-fund",
		"--no-update-notifier", "--loglevel=error",
		"--fetch-retries=2", "--fetch-retry-mintimeout=1000", "--fetch-retry-maxtimeout=5000")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("timed out after %s", installTimeout)
		}
		t.Fatalf("installing @hubspot/api-client@%s from the npm registry failed (npm ci in %s): %v\n%s", nodeSDKVersion, dir, err, out)
	}
	modules := filepath.Join(dir, "node_modules")
	v, err := installedSDKVersion(modules)
	if err != nil {
		t.Fatalf("after npm ci: %v", err)
	}
	if v != nodeSDKVersion {
		t.Fatalf("npm ci installed @hubspot/api-client %s, want %s (testdata/nodesdk out of step with nodeSDKVersion)", v, nodeSDKVersion)
	}
	t.Logf("installed @hubspot/api-client@%s in %s", v, time.Since(start).Round(100*time.Millisecond))
	return modules
}

// installedSDKVersion reads the version of @hubspot/api-client in modules.
func installedSDKVersion(modules string) (string, error) {
	b, err := os.ReadFile(filepath.Join(modules, "@hubspot", "api-client", "package.json"))
	if err != nil {
		return "", errors.New("no @hubspot/api-client there: " + err.Error())
	}
	var pkg struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		return "", err
	}
	return pkg.Version, nil
}

// checkNodeVersion fails the test on a node too old for the client.
func checkNodeVersion(t *testing.T, node string) {
	t.Helper()
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		t.Fatalf("node --version: %v", err)
	}
	v := strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
	major, _, _ := strings.Cut(v, ".")
	if n, err := strconv.Atoi(major); err != nil || n < 18 {
		t.Fatalf("@hubspot/api-client %s needs node >= 18, found %q", nodeSDKVersion, strings.TrimSpace(string(out)))
	}
}
