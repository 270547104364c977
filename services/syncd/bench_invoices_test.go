package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/hubspot"
	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/pkg/money"
	"github.com/ledgersync/ledgersync/pkg/qbo"
	"github.com/ledgersync/ledgersync/pkg/testutil"
	"github.com/ledgersync/ledgersync/streams"
)

var benchInvoiceCount = flag.Int("bench.invoices", 2000, "invoices (5 lines each) in BenchmarkInvoicesFirstSync")

// BenchmarkInvoicesFirstSync runs a first sync of invoices with 5 lines
// each, the simulators throttled as the real services and ledgersync on its
// default budgets, in each direction. It reports invoices/s, API calls per
// invoice on the receiving side, the share of that side's ceiling the sync
// used (HubSpot: 110 calls per 10 s; QBO: 500 per minute), 429s and failed
// invoices. Seeding runs unthrottled and is not measured.
//
//	go test -run '^$' -bench InvoicesFirstSync -benchtime 1x -timeout 90m ./services/syncd/
func BenchmarkInvoicesFirstSync(b *testing.B) {
	b.Run("qbo-to-hubspot", func(b *testing.B) { benchInvoices(b, streams.SystemQBO) })
	b.Run("hubspot-to-qbo", func(b *testing.B) { benchInvoices(b, streams.SystemHubSpot) })
}

func benchInvoices(b *testing.B, from streams.System) {
	n := *benchInvoiceCount
	ctx := context.Background()
	ch := testutil.ClickHouse(b)
	hsAddr, qboAddr, httpAddr, natsAddr := testutil.FreeAddr(b), testutil.FreeAddr(b), testutil.FreeAddr(b), testutil.FreeAddr(b)
	simEnv := map[string]string{"SIM_SEED": "empty", "SIM_HUBSPOT_ADDR": hsAddr, "SIM_QBO_ADDR": qboAddr, "SIM_QBO_REQUESTID_WINDOW": "1h",
		"SIM_HUBSPOT_DAILY_LIMIT": "10000000", "SIM_QBO_THROTTLE": "off",
		"SIM_HUBSPOT_WEBHOOK_URL": "http://" + httpAddr + "/webhooks/hubspot", "SIM_QBO_WEBHOOK_URL": "http://" + httpAddr + "/webhooks/qbo"}
	startSyncd(b, "sim", copyEnv(simEnv, nil))
	throttleHubSpot := func(on bool) {
		body, _ := json.Marshal(map[string]bool{"throttle": on})
		req, _ := http.NewRequest(http.MethodPut, "http://"+hsAddr+"/_sim/limits", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode/100 != 2 {
			b.Fatalf("HubSpot throttle: %v %v", resp, err)
		}
	}
	throttleQBO := func(on bool) {
		body, _ := json.Marshal(map[string]bool{"enabled": on})
		req, _ := http.NewRequest(http.MethodPut, "http://"+qboAddr+"/_sim/throttle", bytes.NewReader(body))
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode/100 != 2 {
			b.Fatalf("QBO throttle: %v %v", resp, err)
		}
	}
	hs, err := hubspot.New(hubspot.Config{BaseURL: "http://" + hsAddr, PortalID: "4000001"}, hubspot.PrivateAppToken("sim-token"),
		hubspot.WithBudget(hubspot.NewBudget(hubspot.BudgetConfig{Burst: 1_000_000, Window: time.Second, SearchPerSecond: 1000})))
	if err != nil {
		b.Fatal(err)
	}
	testutil.WaitFor(b, 20*time.Second, "simulators", func() bool {
		_, err := hs.List(ctx, hubspot.Contacts, hubspot.ListOptions{Limit: 1})
		return err == nil
	})
	throttleHubSpot(false)
	seedInvoices(b, ctx, from, n, hs, unthrottledQBO(b, qboAddr))
	throttleHubSpot(true)
	throttleQBO(true)

	store, err := activity.Open(ch, logging.Discard())
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	receiving := "hubspot"
	if from == streams.SystemHubSpot {
		receiving = "qbo"
	}
	calls0, refused0 := apiCalls(b, receiving)
	std0, _ := apiCalls(b, receiving, "standard")
	search0, _ := apiCalls(b, receiving, "search")
	b.ResetTimer()
	start := time.Now()
	env := copyEnv(simEnv, map[string]string{
		"SYNC_HTTP_ADDR": httpAddr, "SYNC_DATA_DIR": b.TempDir(), "SYNC_NATS_LISTEN": natsAddr, "SYNC_NATS_MONITOR_ADDR": "",
		"CLICKHOUSE_ADDR": ch.Addr, "CLICKHOUSE_DATABASE": ch.Database, "LOG_LEVEL": "warn",
		"SYNC_ADMIN_TOKEN": "bench-admin-token-0123456789", "SYNC_TOKEN_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
		"SYNC_DEMO": "on", "QBO_WEBHOOK_VERIFIER": "sim-verifier", "HUBSPOT_CLIENT_ID": "sim-hs-client", "HUBSPOT_CLIENT_SECRET": "sim-hs-secret",
		"QBO_CLIENT_ID": "sim-client", "QBO_CLIENT_SECRET": "sim-secret", "QBO_TOKEN_URL": "http://" + qboAddr + "/oauth2/v1/tokens/bearer",
		"WRITER_BACKFILL_WORKERS": "8",
	})
	startSyncd(b, "all", env)
	if from == streams.SystemHubSpot {
		settings := connection.Recommended(streams.ObjectInvoice, time.Now())
		settings.Direction = connection.TwoWay
		delete(settings.Filters, connection.HubSpotToQBO)
		body, _ := json.Marshal(map[string]any{"objects": map[streams.Object]connection.ObjectSettings{streams.ObjectInvoice: settings}})
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			req, _ := http.NewRequest(http.MethodPatch, "http://"+httpAddr+"/api/connections/demo", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer bench-admin-token-0123456789")
			req.Header.Set("Content-Type", "application/json")
			answer := ""
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				msg, _ := io.ReadAll(io.LimitReader(resp.Body, 2000))
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
				answer = resp.Status + ": " + string(msg)
			} else {
				answer = err.Error()
			}
			if time.Now().After(deadline) {
				b.Fatalf("the invoice sync two-way: last answer %s", answer)
			}
		}
	}
	var written, failed uint64
	testutil.WaitFor(b, 3*time.Hour, "every invoice settled by the writer", func() bool {
		time.Sleep(time.Second)
		_ = store.Conn().QueryRow(ctx, `SELECT countIf(outcome = 'success'), countIf(outcome = 'failed') FROM sync_activity FINAL
			WHERE stage = 'writer' AND object = 'invoice' AND source_system = ?`, string(from)).Scan(&written, &failed)
		return written+failed >= uint64(n)
	})
	elapsed := time.Since(start)
	b.StopTimer()
	calls1, refused1 := apiCalls(b, receiving)
	b.ReportMetric(float64(written)/elapsed.Seconds(), "invoices/s")
	b.ReportMetric((calls1-calls0)/float64(n), receiving+"-calls/invoice")
	b.ReportMetric(100*ceilingUse(b, receiving, std0, search0, elapsed), "pct-of-"+receiving+"-ceiling")
	b.ReportMetric(refused1-refused0, receiving+"-429s")
	b.ReportMetric(float64(failed), "failed-invoices")
	logStageSpans(b, store, start)
}

// ceilingUse is how much of the receiving side's tightest limit the sync
// used: HubSpot 110 standard calls per 10 s and 5 searches per second, QBO
// 500 calls per minute.
func ceilingUse(b *testing.B, system string, std0, search0 float64, elapsed time.Duration) float64 {
	std1, _ := apiCalls(b, system, "standard")
	stdRate := (std1 - std0) / elapsed.Seconds()
	if system == "qbo" {
		return stdRate / (500.0 / 60)
	}
	search1, _ := apiCalls(b, system, "search")
	return max(stdRate/11, (search1-search0)/elapsed.Seconds()/5)
}

// seedInvoices makes n invoices of 5 lines in the system they come from,
// for 20 customers (contacts) and 10 products with SKUs.
func seedInvoices(b *testing.B, ctx context.Context, from streams.System, n int, hs *hubspot.Client, qc *qbo.Client) {
	accounts, err := qbo.All[qbo.Account](ctx, qc, qbo.Select{Entity: qbo.EntityAccount, Where: "AccountType = 'Income'"})
	if err != nil || len(accounts) == 0 {
		b.Fatalf("income accounts: %v", err)
	}
	var itemIDs, productIDs, customerIDs, contactIDs []string
	for i := range 10 {
		it, err := qc.CreateItem(ctx, &qbo.Item{Name: fmt.Sprintf("Part %02d", i), Sku: fmt.Sprintf("PART-%02d", i), Type: "NonInventory",
			UnitPrice: qbo.Price(fmt.Sprintf("%d.95", 10+i)), IncomeAccountRef: &qbo.Ref{Value: accounts[0].ID}})
		if err != nil {
			b.Fatal(err)
		}
		itemIDs = append(itemIDs, it.ID)
	}
	for i := range 20 {
		email := fmt.Sprintf("buyer%02d@invoices.example", i)
		if from == streams.SystemQBO {
			c, err := qc.CreateCustomer(ctx, &qbo.Customer{DisplayName: fmt.Sprintf("Buyer %02d", i), PrimaryEmailAddr: &qbo.EmailAddress{Address: email}})
			if err != nil {
				b.Fatal(err)
			}
			customerIDs = append(customerIDs, c.ID)
			continue
		}
		c, err := hs.Create(ctx, hubspot.Contacts, map[string]string{"email": email, "firstname": "Buyer", "lastname": fmt.Sprintf("%02d", i)})
		if err != nil {
			b.Fatal(err)
		}
		contactIDs = append(contactIDs, c.ID)
	}
	if from == streams.SystemHubSpot {
		for i := range 10 { // the items' products, matched by SKU once the product sync runs
			p, err := hs.Create(ctx, hubspot.Products, map[string]string{"name": fmt.Sprintf("Part %02d", i), "hs_sku": fmt.Sprintf("PART-%02d", i), "price": fmt.Sprintf("%d.95", 10+i)})
			if err != nil {
				b.Fatal(err)
			}
			productIDs = append(productIDs, p.ID)
		}
	}
	for i := range n {
		if from == streams.SystemQBO {
			var lines []qbo.Line
			for j := range 5 {
				qty, price := money.FromCents(int64(100*(1+j))), money.MustParse(fmt.Sprintf("%d.95", 10+(i+j)%10))
				lines = append(lines, qbo.Line{DetailType: "SalesItemLineDetail", Amount: qty.Mul(price).Round2(),
					SalesItemLineDetail: &qbo.SalesItemLineDetail{ItemRef: &qbo.Ref{Value: itemIDs[(i+j)%10]}, Qty: qty, UnitPrice: price}})
			}
			if _, err := qc.CreateInvoice(ctx, &qbo.Invoice{CustomerRef: &qbo.Ref{Value: customerIDs[i%20]}, Line: lines}); err != nil {
				b.Fatal(err)
			}
			continue
		}
		inv, err := hs.Create(ctx, hubspot.Invoices, map[string]string{"hs_currency": "USD", "hs_invoice_date": time.Now().Format("2006-01-02")},
			hubspot.AssociationInput{ToID: contactIDs[i%20], Types: []hubspot.AssociationSpec{{Category: hubspot.CategoryHubSpot, TypeID: 177}}})
		if err != nil {
			b.Fatal(err)
		}
		var inputs []hubspot.CreateInput
		for j := range 5 {
			inputs = append(inputs, hubspot.CreateInput{Properties: map[string]string{"name": fmt.Sprintf("Part %02d", (i+j)%10),
				"hs_product_id": productIDs[(i+j)%10], "quantity": fmt.Sprint(1 + j), "price": fmt.Sprintf("%d.95", 10+(i+j)%10)},
				Associations: []hubspot.AssociationInput{{ToID: inv.ID, Types: []hubspot.AssociationSpec{{Category: hubspot.CategoryHubSpot, TypeID: 410}}}}})
		}
		if res, err := hs.BatchCreate(ctx, hubspot.LineItems, inputs); err != nil || len(res.Errors) > 0 {
			b.Fatalf("line items: %v", err)
		}
		if _, err := hs.Update(ctx, hubspot.Invoices, inv.ID, map[string]string{"hs_invoice_status": "open"}); err != nil {
			b.Fatal(err)
		}
	}
}

// unthrottledQBO is a QBO client for seeding with the simulator's throttle
// off: its budget does not hold it back either.
func unthrottledQBO(b *testing.B, qboAddr string) *qbo.Client {
	tok, err := (&oauth2.Config{ClientID: "sim-client", ClientSecret: "sim-secret",
		Endpoint: oauth2.Endpoint{TokenURL: "http://" + qboAddr + "/oauth2/v1/tokens/bearer", AuthStyle: oauth2.AuthStyleInHeader}}).
		TokenSource(context.Background(), &oauth2.Token{RefreshToken: "sim-refresh"}).Token()
	if err != nil {
		b.Fatal(err)
	}
	qc, err := qbo.New(qbo.Config{BaseURL: "http://" + qboAddr, RealmID: "9130350000000001"}, oauth2.StaticTokenSource(tok),
		qbo.WithBudget(qbo.NewBudget(qbo.Limits{PerMinute: 1_000_000, PerSecond: 100_000, Concurrent: 16, BatchPerMinute: 100_000, BatchBurst: 1000})))
	if err != nil {
		b.Fatal(err)
	}
	return qc
}
