package hubspot

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ledgersync/ledgersync/pkg/syncerr"
)

func TestBatchCreatePartialFailure(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := ctxT(t)
	existing := mustCreate(t, e, Contacts, map[string]string{PropEmail: "taken@example.com"})
	res, err := e.c.BatchCreate(ctx, Contacts, []CreateInput{
		{Properties: map[string]string{PropEmail: "one@example.com"}},
		{Properties: map[string]string{PropEmail: "taken@example.com"}},
		{Properties: map[string]string{PropEmail: "two@example.com", "no_such_prop": "x"}},
		{Properties: map[string]string{PropEmail: "three@example.com"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Results) != 2 {
		t.Fatalf("%d results, want 2", len(res.Results))
	}
	want := map[int]syncerr.Code{1: CodeConflict, 2: CodeValidation}
	if len(res.Errors) != len(want) {
		t.Fatalf("errors = %+v", res.Errors)
	}
	for _, ie := range res.Errors {
		if want[ie.Index] == "" || syncerr.CodeOf(ie.Err) != want[ie.Index] || syncerr.IsRetryable(ie.Err) {
			t.Errorf("item error %d: %v", ie.Index, ie.Err)
		}
		if ie.Index == 1 {
			if id, ok := ExistingID(ie.Err); !ok || id != existing.ID {
				t.Errorf("ExistingID = %q %v", id, ok)
			}
		}
		if ie.Index == 2 && (len(InvalidProperties(ie.Err)) == 0 || !strings.Contains(ie.Err.Error(), "no_such_prop")) {
			t.Errorf("item 2 does not name the property: %v", ie.Err)
		}
	}
}

func TestBatchOperations(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := ctxT(t)

	// 150 inputs: two chunks
	inputs := make([]CreateInput, 150)
	for i := range inputs {
		inputs[i] = CreateInput{Properties: map[string]string{PropName: fmt.Sprintf("P%03d", i), PropSKU: fmt.Sprintf("SKU-%03d", i)}}
	}
	before := e.calls.Load()
	created, err := e.c.BatchCreate(ctx, Products, inputs)
	if err != nil || len(created.Results) != 150 || len(created.Errors) != 0 {
		t.Fatalf("batch create: %v, %d results, errors %+v", err, len(created.Results), created.Errors)
	}
	if n := e.calls.Load() - before; n != 2 {
		t.Errorf("%d calls for 150 inputs, want 2", n)
	}
	ids := make([]string, 0, 151)
	for _, o := range created.Results {
		ids = append(ids, o.ID)
	}

	t.Run("read with a missing id", func(t *testing.T) {
		res, err := e.c.BatchRead(ctx, Products, append(ids[:3:3], "424242"), BatchReadOptions{Properties: ProductProperties})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Results) != 3 || len(res.Errors) != 1 {
			t.Fatalf("results %d errors %+v", len(res.Results), res.Errors)
		}
		ie := res.Errors[0]
		if ie.Index != 3 || ie.ID != "424242" || syncerr.CodeOf(ie.Err) != CodeNotFound {
			t.Errorf("item error = %+v (%v)", ie, ie.Err)
		}
	})
	t.Run("update with one unknown id", func(t *testing.T) {
		res, err := e.c.BatchUpdate(ctx, Products, []UpdateInput{
			{ID: ids[0], Properties: map[string]string{PropPrice: "1"}},
			{ID: "777777", Properties: map[string]string{PropPrice: "2"}},
			{ID: ids[1], Properties: map[string]string{PropPrice: "3"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Results) != 2 || len(res.Errors) != 1 || res.Errors[0].Index != 1 || syncerr.CodeOf(res.Errors[0].Err) != CodeNotFound {
			t.Fatalf("results %d errors %+v", len(res.Results), res.Errors)
		}
		got, _ := e.c.Get(ctx, Products, ids[1], ProductProperties, nil)
		if got.Prop(PropPrice) != "3" {
			t.Errorf("price = %q", got.Prop(PropPrice))
		}
	})
	t.Run("upsert by email", func(t *testing.T) {
		mustCreate(t, e, Contacts, map[string]string{PropEmail: "old@example.com", PropFirstName: "Old"})
		res, err := e.c.BatchUpsert(ctx, Contacts, []UpdateInput{
			{ID: "old@example.com", IDProperty: PropEmail, Properties: map[string]string{PropFirstName: "Updated"}},
			{ID: "fresh@example.com", IDProperty: PropEmail, Properties: map[string]string{PropFirstName: "Fresh"}},
		})
		if err != nil || len(res.Results) != 2 || len(res.Errors) != 0 {
			t.Fatalf("upsert: %v %+v", err, res)
		}
		news := map[string]bool{}
		for _, o := range res.Results {
			if o.New == nil {
				t.Fatalf("no new flag on %+v", o)
			}
			news[o.Prop(PropEmail)] = *o.New
		}
		if news["old@example.com"] || !news["fresh@example.com"] {
			t.Errorf("new flags = %v", news)
		}
		if _, err := e.c.BatchUpsert(ctx, Contacts, []UpdateInput{{ID: "x@example.com"}}); syncerr.CodeOf(err) != CodeValidation {
			t.Errorf("upsert without idProperty: %v", err)
		}
	})
	t.Run("archive", func(t *testing.T) {
		if err := e.c.BatchArchive(ctx, Products, ids[:120]); err != nil {
			t.Fatal(err)
		}
		res, err := e.c.BatchRead(ctx, Products, ids[118:122], BatchReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Results) != 2 || len(res.Errors) != 2 {
			t.Fatalf("after archive: %d results, errors %+v", len(res.Results), res.Errors)
		}
	})
}
