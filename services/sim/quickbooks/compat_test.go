package quickbooks

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNodeQuickBooksClient points published clients (npm, pinned in
// testdata/nodeclient/package.json and package-lock.json) at the simulator:
// node-quickbooks runs its main operations (token refresh, create, read,
// sparse update with SyncToken, faults, query with paging, count, invoice
// and payment, batch, CDC, requestid, revoke) and Intuit's intuit-oauth runs
// the consent page, code exchange, an API call, refresh and revoke.
//
// CI (make test) sets SIM_QBO_NODE_COMPAT=1: the test then runs `npm ci`
// from the committed lock file into a temporary folder (node_modules never
// lands in the checkout) and fails, never skips, when node or npm is
// missing or the install fails. SIM_QBO_NODE_MODULES=<dir> instead uses a
// folder whose node_modules already holds both packages. With neither set
// the test is skipped, so a machine without node can run go test.
func TestNodeQuickBooksClient(t *testing.T) {
	required := os.Getenv("SIM_QBO_NODE_COMPAT") == "1"
	dir := os.Getenv("SIM_QBO_NODE_MODULES")
	if !required && dir == "" {
		t.Skip("set SIM_QBO_NODE_COMPAT=1 (npm ci into a temporary folder) or SIM_QBO_NODE_MODULES to run the node-quickbooks compatibility test")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("SIM_QBO_NODE_COMPAT=1 or SIM_QBO_NODE_MODULES is set but node is not installed (need Node.js >= 18 on PATH): %v", err)
	}
	if dir == "" {
		dir = npmInstall(t)
	}
	for _, name := range []string{"compat.js", "oauth-compat.js"} {
		t.Run(name, func(t *testing.T) {
			script, err := os.ReadFile(filepath.Join("testdata", "nodeclient", name))
			if err != nil {
				t.Fatal(err)
			}
			scriptPath := filepath.Join(dir, "ledgersync-"+name)
			if err := os.WriteFile(scriptPath, script, 0o644); err != nil {
				t.Fatal(err)
			}
			defer os.Remove(scriptPath)

			// Real time: the client computes CDC's changedSince from its own clock.
			s := newSim(t, nil, WithClock(time.Now))
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, scriptPath)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "SIM_URL="+s.ts.URL, "REALM_ID="+s.realm, "NODE_ENV=production")
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "\nOK") && strings.TrimSpace(string(out)) != "OK" {
				t.Fatalf("%s against the simulator: %v\n%s", name, err, out)
			}
		})
	}
}

// npmInstall installs the pinned clients with `npm ci` (exact versions and
// integrity hashes from the committed package-lock.json) into a temporary
// folder and returns it. npm's own cache (~/.npm) makes repeated runs fast.
func npmInstall(t *testing.T) string {
	t.Helper()
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Fatalf("SIM_QBO_NODE_COMPAT=1 but npm is not installed (it comes with Node.js): %v", err)
	}
	dir := t.TempDir()
	for _, f := range []string{"package.json", "package-lock.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", "nodeclient", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	// --ignore-scripts: the clients are plain JavaScript; no install hook
	// of a dependency runs on a CI machine.
	cmd := exec.CommandContext(ctx, npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("SIM_QBO_NODE_COMPAT=1 but `npm ci` of testdata/nodeclient failed (is the npm registry reachable?): %v\n%s", err, out)
	}
	t.Logf("npm ci: %s", time.Since(start).Round(time.Millisecond))
	return dir
}
