package activity_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ledgersync/ledgersync/pkg/activity"
)

// BenchmarkInsert10k measures one batch INSERT of 10,000 realistic events.
func BenchmarkInsert10k(b *testing.B) {
	st := openStore(b)
	ctx := context.Background()
	if err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	events := make([]activity.Event, 10_000)
	for i := range events {
		events[i] = activity.Event{
			EventID: fmt.Sprintf("ev-%d", i), Time: time.Now().UTC(), Connection: "conn-1", Object: "contact",
			RecordKey: fmt.Sprintf("hubspot:%d", i), HubSpotID: fmt.Sprint(i), QBOID: fmt.Sprint(i), SourceSystem: "hubspot",
			Stage: "writer", Action: "update", Direction: "hubspot_to_qbo", Outcome: activity.OutcomeSuccess,
			Changes:   []activity.FieldChange{{Field: "PrimaryEmailAddr", Old: "a@example.com", New: "b@example.com"}, {Field: "DisplayName", Old: "Acme", New: "Acme AS"}},
			MessageID: fmt.Sprintf("resolved:conn-1:contact:hubspot:qbo:%d:1", i), NatsStream: "SYNC_RESOLVED", NatsSeq: uint64(i),
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := st.Insert(ctx, events); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(events))/b.Elapsed().Seconds(), "rows/s")
}
