package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ledgersync/ledgersync/pkg/testutil"
)

// browser starts headless Chromium (Debian's chromium package; make test
// installs it and sets LEDGERSYNC_BROWSER_TESTS=required so a missing
// browser fails instead of skipping).
func browser(t *testing.T) (context.Context, func(name string)) {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("LEDGERSYNC_BROWSER_TESTS") == "required" {
			t.Fatal("chromium is not installed (apt-get install -y chromium)")
		}
		t.Skip("chromium is not installed; make test installs it")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoFirstRun, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	dir := os.Getenv("LEDGERSYNC_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	shot := func(name string) {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return ctx, shot
}

// TestWebAppInABrowser drives the web app as a person would: sign in,
// create a connection and connect QuickBooks through the simulator's
// consent page, set up a custom mapping and a filter, see the dry run,
// follow the demo connection's object view, filter the record view, open
// a record's timeline and export; a viewer finds no way to change
// settings. Screenshots of the main pages are saved (LEDGERSYNC_SCREENSHOTS).
func TestWebAppInABrowser(t *testing.T) {
	t.Parallel()
	ctx, shot := browser(t)
	ch := testutil.ClickHouse(t)
	httpAddr, hsAddr, qboAddr := testutil.FreeAddr(t), testutil.FreeAddr(t), testutil.FreeAddr(t)
	base := "http://" + httpAddr
	env := map[string]string{
		"SYNC_HTTP_ADDR": httpAddr, "SYNC_DATA_DIR": t.TempDir(), "SYNC_NATS_LISTEN": testutil.FreeAddr(t), "SYNC_NATS_MONITOR_ADDR": "",
		"CLICKHOUSE_ADDR": ch.Addr, "CLICKHOUSE_DATABASE": ch.Database, "ACTIVITYSINK_FLUSH_INTERVAL": "200ms",
		"SYNC_ADMIN_TOKEN": "test-admin-token-0123456789", "SYNC_TOKEN_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
		"SYNC_ADMIN_EMAIL": "admin@demo.example", "SYNC_ADMIN_PASSWORD": "browser test password", "SYNC_PUBLIC_URL": base,
		"SYNC_DEMO": "on", "SIM_SEED": "demo", "SIM_HUBSPOT_ADDR": hsAddr, "SIM_QBO_ADDR": qboAddr,
		"SIM_HUBSPOT_THROTTLE": "off", "SIM_QBO_THROTTLE": "off",
		"SIM_HUBSPOT_WEBHOOK_URL": base + "/webhooks/hubspot", "SIM_QBO_WEBHOOK_URL": base + "/webhooks/qbo", "SIM_QBO_WEBHOOK_DELAY": "100ms",
		"QBO_WEBHOOK_VERIFIER": "sim-verifier", "HUBSPOT_CLIENT_SECRET": "sim-hs-secret", "HUBSPOT_CLIENT_ID": "sim-hs-client",
		"QBO_CLIENT_ID": "sim-client", "QBO_CLIENT_SECRET": "sim-secret", "QBO_AUTH_URL": "http://" + qboAddr + "/connect/oauth2",
		"QBO_TOKEN_URL": "http://" + qboAddr + "/oauth2/v1/tokens/bearer", "QBO_API_URL": "http://" + qboAddr,
		"HUBSPOT_API_URL": "http://" + hsAddr, "HUBSPOT_AUTH_URL": "http://" + hsAddr + "/oauth/authorize",
		"HUBSPOT_TOKEN_URL": "http://" + hsAddr + "/oauth/v1/token", "INGESTOR_POLL_INTERVAL": "2s",
	}
	p := startSyncd(t, "all,sim", env)
	defer func() {
		if t.Failed() {
			t.Logf("syncd logs:\n%s", p.logs.String())
		}
	}()
	testutil.WaitFor(t, 60*time.Second, "syncd ready", func() bool { code, _ := p.readyz(t); return code == 200 })
	testutil.WaitFor(t, 60*time.Second, "the demo connection", func() bool {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/connections/demo", nil)
		req.Header.Set("Authorization", "Bearer "+env["SYNC_ADMIN_TOKEN"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	read := func(what string, a chromedp.Action[string]) string {
		t.Helper()
		v, err := chromedp.Run(ctx, a)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
	// Anonymous: the app asks to sign in; then sign in.
	run("sign-in page", chromedp.Navigate(base+"/app"), chromedp.WaitVisible(chromedp.ID("email")))
	shot("01-sign-in")
	run("sign in", chromedp.SendKeys(chromedp.ID("email"), "admin@demo.example"), chromedp.SendKeys(chromedp.ID("password"), "browser test password"),
		chromedp.Submit(chromedp.ID("password")), chromedp.WaitVisible(chromedp.Search(`//h1[text()="Connections"]`)))
	shot("02-connections")
	if text := read("connections", chromedp.Text(chromedp.CSS("main"))); !strings.Contains(text, "Demo") {
		html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("main")))
		t.Fatalf("connections page: %q\n%s", text, html)
	}

	// A new connection, connected to QuickBooks through the consent page.
	run("new connection", chromedp.SendKeys(chromedp.ID("name"), "Browser books"), chromedp.Submit(chromedp.ID("name")),
		chromedp.WaitVisible(chromedp.Search(`//button[contains(., "Connect QuickBooks")]`)))
	run("connect QuickBooks", chromedp.Click(chromedp.Search(`//button[contains(., "Connect QuickBooks")]`)), chromedp.WaitVisible(chromedp.ID("connect")))
	shot("03-qbo-consent")
	run("approve", chromedp.Click(chromedp.ID("connect")), chromedp.WaitVisible(chromedp.Search(`//h1[text()="Connected"]`)),
		chromedp.Click(chromedp.Search(`//a[contains(., "Back to the connection")]`)),
		chromedp.WaitVisible(chromedp.Search(`//button[contains(., "Reconnect QuickBooks")]`)))
	// HubSpot through its OAuth consent page too.
	run("connect HubSpot", chromedp.Click(chromedp.Search(`//button[contains(., "Connect HubSpot")]`)), chromedp.WaitVisible(chromedp.ID("connect")))
	shot("03b-hubspot-consent")
	run("approve HubSpot", chromedp.Click(chromedp.ID("connect")), chromedp.WaitVisible(chromedp.Search(`//h1[text()="Connected"]`)),
		chromedp.Click(chromedp.Search(`//a[contains(., "Back to the connection")]`)),
		chromedp.WaitVisible(chromedp.Search(`//button[contains(., "Reconnect HubSpot")]`)))

	// The demo connection: object view, setup with a custom mapping and a
	// filter, the dry run.
	run("object view", chromedp.Navigate(base+"/app/connections/demo"), chromedp.WaitVisible(chromedp.ID("objects")))
	// The first sync's progress follows the API without a reload: the
	// script says it refreshed and the table holds a row per object read.
	testutil.WaitFor(t, 30*time.Second, "the progress table refreshed by the page", func() bool {
		text, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("progress-status")))
		return err == nil && (strings.Contains(text, "Updating every 2 s.") || strings.Contains(text, "First sync done."))
	})
	if rows, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('table[data-progress-url] tbody tr').length`)); err != nil || rows == 0 {
		t.Fatalf("progress rows after the refresh: %d (%v)", rows, err)
	}
	testutil.WaitFor(t, 120*time.Second, "failing contacts in the object view", func() bool {
		if chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("objects"))) != nil {
			return false
		}
		n, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`tr[data-object="contact"] td[data-col="failing"]`)))
		return err == nil && strings.TrimSpace(n) != "" && strings.TrimSpace(n) != "0"
	})
	shot("04-object-view")
	run("setup", chromedp.Navigate(base+"/app/connections/demo/setup"), chromedp.WaitVisible(chromedp.ID("setup")),
		chromedp.SendKeys(chromedp.CSS(`input[name="contact.map.new.hubspot"]`), "jobtitle"),
		chromedp.SendKeys(chromedp.CSS(`input[name="contact.map.new.qbo"]`), "Title"),
		chromedp.SetValue(chromedp.CSS(`textarea[name="contact.filter.qbo_to_hubspot"]`), "DisplayName has_property"))
	shot("05-setup")
	run("save", chromedp.Click(chromedp.Search(`//button[text()="Save and start sync"]`)), chromedp.WaitVisible(chromedp.Search(`//p[contains(., "Saved.")]`)))
	if text := read("saved filter", chromedp.Value(chromedp.CSS(`textarea[name="contact.filter.qbo_to_hubspot"]`))); strings.TrimSpace(text) != "DisplayName has_property" {
		t.Fatalf("saved filter: %q", text)
	}
	run("dry run", chromedp.Click(chromedp.Search(`//a[contains(., "Preview what the first sync would do")]`)),
		chromedp.WaitVisible(chromedp.Search(`//h1[contains(., "first sync would do")]`)))
	if text := read("dry run", chromedp.Text(chromedp.CSS("main"))); !strings.Contains(text, "Matched to an existing record") {
		t.Fatalf("dry run page: %s", text)
	}
	shot("06-dry-run")

	// The record view, filtered to failing contacts, and one timeline.
	run("records", chromedp.Navigate(base+"/app/connections/demo/records"), chromedp.WaitVisible(chromedp.ID("records")),
		chromedp.SetValue(chromedp.CSS(`select[name="status"]`), "failing"), chromedp.SetValue(chromedp.CSS(`select[name="object"]`), "contact"),
		chromedp.Submit(chromedp.CSS(`select[name="status"]`)), chromedp.WaitVisible(chromedp.Search(`//td[contains(., "Duplicate display name")]`)))
	shot("07-record-view")
	run("timeline", chromedp.Click(chromedp.CSS(`#records tbody tr:first-child td a`)), chromedp.WaitVisible(chromedp.CSS(`ol.timeline`)))
	if text := read("record page", chromedp.Text(chromedp.CSS("main"))); !strings.Contains(text, "Next step:") {
		t.Fatalf("record page: %s", text)
	}
	shot("08-timeline")
	run("export", chromedp.Navigate(base+"/app/connections/demo/records?object=contact&status=failing"), chromedp.WaitVisible(chromedp.ID("records")),
		chromedp.Click(chromedp.Search(`//button[@value="xlsx"]`)), chromedp.WaitVisible(chromedp.Search(`//h1[contains(., "Export")]`)))
	shot("09-export-started")
	run("export ready", chromedp.WaitVisible(chromedp.Search(`//a[contains(., "Download the xlsx file")]`)))
	shot("10-export-ready")

	// A viewer: the settings have no save button and no connect buttons.
	run("sign out", chromedp.Navigate(base+"/app"), chromedp.Click(chromedp.Search(`//button[text()="Sign out"]`)), chromedp.WaitVisible(chromedp.ID("email")))
	if code := adminPost(t, base+"/api/users", env["SYNC_ADMIN_TOKEN"], `{"email":"viewer@demo.example","role":"viewer","workspace":"default","password":"viewer password 1"}`); code != 201 {
		t.Fatalf("create viewer: %d", code)
	}
	run("viewer signs in", chromedp.SendKeys(chromedp.ID("email"), "viewer@demo.example"), chromedp.SendKeys(chromedp.ID("password"), "viewer password 1"),
		chromedp.Submit(chromedp.ID("password")), chromedp.WaitVisible(chromedp.Search(`//h1[text()="Connections"]`)),
		chromedp.Navigate(base+"/app/connections/demo/setup"), chromedp.WaitVisible(chromedp.ID("setup")))
	buttons, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('main button').length`))
	if err != nil || buttons != 0 {
		t.Fatalf("a viewer's setup page has %d buttons (%v)", buttons, err)
	}
	shot("11-viewer-setup")
}

// adminPost sends a JSON body with the admin token and answers the status.
func adminPost(t *testing.T, url, token, body string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
