package writer

import (
	"context"
	"fmt"
	"strings"

	"github.com/ledgersync/ledgersync/pkg/hubspot"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
)

// contactUpsert is one new contact to write to HubSpot by its email.
type contactUpsert struct {
	cl    *hubspot.Client
	input hubspot.UpdateInput
}

// upsertedContact is HubSpot's answer for one contactUpsert.
type upsertedContact struct {
	obj     *hubspot.Object
	created bool
}

// upsertContacts writes new contacts in one batch upsert by email: HubSpot
// creates the ones it does not know and updates the ones it does, so a
// contact that exists already (or a create retried after a crash) is
// linked, never duplicated. The batch is one call instead of one per
// contact, which is most of a first sync's HubSpot budget.
func upsertContacts(ctx context.Context, _ string, ins []contactUpsert) []batchResult[upsertedContact] {
	out := make([]batchResult[upsertedContact], len(ins))
	// HubSpot refuses a batch that names one email twice: the later ones
	// go again, and then update the contact the first one made.
	var send []int
	byEmail := map[string]int{}
	for i, in := range ins {
		email := strings.ToLower(in.input.ID)
		if _, dup := byEmail[email]; dup {
			out[i].err = syncerr.Transient(syncerr.CodeUnavailable, fmt.Errorf("hubspot: email written by another record of this batch; writing again"))
			continue
		}
		byEmail[email] = i
		send = append(send, i)
	}
	inputs := make([]hubspot.UpdateInput, len(send))
	for j, i := range send {
		inputs[j] = ins[i].input
		inputs[j].TraceID = fmt.Sprintf("ls-%d", j)
	}
	res, err := ins[send[0]].cl.BatchUpsert(ctx, hubspot.Contacts, inputs)
	if err == nil && len(send) > 1 && wholeBatchRefused(res, len(send)) {
		// One bad input makes HubSpot refuse the whole batch: write each
		// alone, so only that one fails.
		for _, i := range send {
			out[i] = upsertContacts(ctx, "", []contactUpsert{ins[i]})[0]
		}
		return out
	}
	if err != nil {
		for _, i := range send {
			out[i].err = err
		}
		return out
	}
	for _, e := range res.Errors {
		if e.Index >= 0 && e.Index < len(send) {
			out[send[e.Index]].err = e.Err
		}
	}
	for k := range res.Results {
		o := &res.Results[k]
		i, ok := byEmail[strings.ToLower(o.Prop(hubspot.PropEmail))]
		if !ok || out[i].err != nil {
			continue
		}
		out[i].out = upsertedContact{obj: o, created: o.New != nil && *o.New}
	}
	for _, i := range send {
		if out[i].out.obj == nil && out[i].err == nil {
			out[i].err = syncerr.Transient(syncerr.CodeUnavailable, fmt.Errorf("hubspot: the batch upsert did not answer for this contact"))
		}
	}
	return out
}

// wholeBatchRefused reports whether every input failed with one
// non-retryable error: the call was refused as a whole, not item by item.
func wholeBatchRefused(res *hubspot.BatchResult, n int) bool {
	if len(res.Results) > 0 || len(res.Errors) < n {
		return false
	}
	first := res.Errors[0].Err
	for _, e := range res.Errors {
		if e.Err != first {
			return false
		}
	}
	return !syncerr.IsRetryable(first)
}
