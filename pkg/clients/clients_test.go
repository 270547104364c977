package clients

import (
	"testing"

	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/logging"
)

func TestOneBudgetPerAccountAcrossFactories(t *testing.T) {
	apps := Apps{QBO: QBOApp{APIURL: "http://127.0.0.1:1", LimitPerMinute: 500, LimitPerSecond: 10, LimitConcurrent: 10},
		HubSpot: HubSpotApp{APIURL: "http://127.0.0.1:1", LimitBurst: 110}}
	// The ingestor and the writer of one process build their own factories.
	a, b := NewFactory(apps, nil, logging.Discard(), nil), NewFactory(apps, nil, logging.Discard(), nil)
	if a.qboBudget("http://127.0.0.1:1", "r1") != b.qboBudget("http://127.0.0.1:1/", "r1") {
		t.Fatal("two factories gave one QBO company two budgets")
	}
	if a.qboBudget("http://127.0.0.1:1", "r1") == a.qboBudget("http://127.0.0.1:2", "r1") {
		t.Fatal("the same realm id at another host shares a budget")
	}
	if a.hubspotBudget("http://127.0.0.1:1", "p1") != b.hubspotBudget("http://127.0.0.1:1", "p1") {
		t.Fatal("two factories gave one portal two budgets")
	}
	var c connection.Connection
	c.ID = "c1"
	if _, err := a.QBO(c); err == nil {
		t.Fatal("a connection without a QBO company got a client")
	}
}
