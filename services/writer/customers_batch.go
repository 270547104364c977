package writer

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/ledgersync/ledgersync/pkg/qbo"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
)

// customerWrite is one customer to write to QBO for a link that has no
// QBO side yet: matched by email first (QBO does not keep emails unique,
// so the writer looks), created otherwise.
type customerWrite struct {
	cl    *qbo.Client
	email string // the match key
	cust  *qbo.Customer
	// requestID makes a single create idempotent (a batch is made safe
	// to repeat by its lookups).
	requestID string
}

// writtenCustomer is QBO's answer for one customerWrite.
type writtenCustomer struct {
	out     *qbo.Customer
	created bool
}

// writeCustomers matches and writes new customers in two batch calls for
// up to 30 of them: one with an email lookup each, one with the creates
// (and the updates of customers the lookups found). Single calls would
// take two of QBO's 500 a minute per customer; a batch call takes one of
// its 40 a minute for 30, so a first sync into QBO runs about 2.4 times as
// fast. An unconfirmed batch is safe to repeat: the lookups find what it
// created.
func writeCustomers(ctx context.Context, _ string, ins []customerWrite) []batchResult[writtenCustomer] {
	out := make([]batchResult[writtenCustomer], len(ins))
	if len(ins) < minCustomerBatch {
		// A few live changes: /batch calls are scarce (40 a minute against
		// 500 single calls), so they go one by one.
		var wg sync.WaitGroup
		for i, in := range ins {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out[i].out, out[i].err = writeCustomer(ctx, in)
			}()
		}
		wg.Wait()
		return out
	}
	cl := ins[0].cl
	var lookups []qbo.BatchOp
	var looked []int
	byEmail := map[string]bool{}
	for i, in := range ins {
		if in.email == "" {
			continue
		}
		email := strings.ToLower(in.email)
		if byEmail[email] {
			// Two records of one batch with one email: the later one goes
			// again, and then finds the customer the first one made.
			out[i].err = syncerr.Transient(syncerr.CodeUnavailable, fmt.Errorf("qbo: email written by another record of this batch; writing again"))
			continue
		}
		byEmail[email] = true
		lookups = append(lookups, qbo.BatchQuery("SELECT * FROM Customer WHERE PrimaryEmailAddr = "+qbo.Quote(in.email)+" AND Active IN (true, false) MAXRESULTS 1"))
		looked = append(looked, i)
	}
	found := map[int]*qbo.Customer{}
	if len(lookups) > 0 {
		res, err := cl.Batch(ctx, lookups)
		if err != nil {
			for i := range out {
				if out[i].err == nil {
					out[i].err = err
				}
			}
			return out
		}
		for k, r := range res {
			i := looked[k]
			if r.Err != nil {
				out[i].err = r.Err
				continue
			}
			var list []qbo.Customer
			if r.Query != nil {
				if err := r.Query.Decode(qbo.EntityCustomer, &list); err != nil {
					out[i].err = err
					continue
				}
			}
			if len(list) > 0 {
				found[i] = &list[0]
			}
		}
	}
	var writes []qbo.BatchOp
	var wrote []int
	for i, in := range ins {
		if out[i].err != nil {
			continue
		}
		if f := found[i]; f != nil {
			c := *in.cust
			c.ID, c.SyncToken = f.ID, f.SyncToken
			writes = append(writes, qbo.BatchUpdate(&c))
		} else {
			writes = append(writes, qbo.BatchCreate(in.cust))
		}
		wrote = append(wrote, i)
	}
	if len(writes) == 0 {
		return out
	}
	res, err := cl.Batch(ctx, writes)
	if err != nil {
		for _, i := range wrote {
			out[i].err = err
		}
		return out
	}
	for k, r := range res {
		i := wrote[k]
		var c qbo.Customer
		if err := r.Decode(&c); err != nil {
			out[i].err = err
			continue
		}
		out[i].out = writtenCustomer{out: &c, created: found[i] == nil}
	}
	return out
}

// minCustomerBatch is the fewest new customers worth a pair of batch calls.
const minCustomerBatch = 4

// writeCustomer matches and writes one new customer with single calls.
func writeCustomer(ctx context.Context, in customerWrite) (writtenCustomer, error) {
	found, err := qbo.All[qbo.Customer](ctx, in.cl, qbo.Select{Entity: qbo.EntityCustomer,
		Where: "PrimaryEmailAddr = " + qbo.Quote(in.email) + " AND Active IN (true, false)", PageSize: 2})
	if err != nil {
		return writtenCustomer{}, err
	}
	if len(found) == 0 {
		c, err := in.cl.CreateCustomer(ctx, in.cust, qbo.WithRequestID(in.requestID))
		return writtenCustomer{out: c, created: true}, err
	}
	c := *in.cust
	c.ID, c.SyncToken = found[0].ID, found[0].SyncToken
	out, err := in.cl.UpdateCustomer(ctx, &c)
	return writtenCustomer{out: out}, err
}
