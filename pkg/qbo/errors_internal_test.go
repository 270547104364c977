package qbo

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ledgersync/ledgersync/pkg/money"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
)

func TestParseAndClassifyFaults(t *testing.T) {
	cases := []struct {
		name      string
		status    int
		body      string
		code      syncerr.Code
		retryable bool
		qboCode   string
		element   string
	}{
		{"duplicate name", 400, `{"Fault":{"Error":[{"Message":"Duplicate Name Exists Error","Detail":"The name supplied already exists. : Id=67","code":"6240","element":""}],"type":"ValidationFault"},"time":"2024-01-10T09:15:02.123-08:00"}`,
			CodeDuplicateName, false, "6240", ""},
		{"duplicate doc", 400, `{"Fault":{"Error":[{"Message":"Duplicate Document Number Error","Detail":"DocNumber=1 is assigned","code":"6140"}],"type":"ValidationFault"}}`,
			CodeDuplicateDocNumber, false, "6140", ""},
		{"stale", 400, `{"Fault":{"Error":[{"Message":"Stale Object Error","Detail":"Stale Object Error : You and x","code":"5010"}],"type":"ValidationFault"}}`,
			CodeStaleObject, true, "5010", ""},
		{"not found", 400, `{"Fault":{"Error":[{"Message":"Object Not Found","Detail":"Object Not Found : Something","code":"610"}],"type":"ValidationFault"}}`,
			CodeNotFound, false, "610", ""},
		{"uk tax", 400, `{"Fault":{"Error":[{"Message":"A business validation error has occurred while processing your request","Detail":"Business Validation Error: Make sure all your transactions have a VAT rate before you save.","code":"6000"}],"type":"ValidationFault"}}`,
			CodeTaxRequired, false, "6000", ""},
		{"ca tax", 400, `{"Fault":{"Error":[{"Message":"A business validation error has occurred","Detail":"Business Validation Error: Make sure all your transactions have a GST/HST rate before you save.","code":"6000"}],"type":"ValidationFault"}}`,
			CodeTaxRequired, false, "6000", ""},
		{"other business rule", 400, `{"Fault":{"Error":[{"Message":"A business validation error has occurred","Detail":"Business Validation Error: This invoice has payments applied to it.","code":"6000"}],"type":"ValidationFault"}}`,
			CodeValidation, false, "6000", ""},
		{"required param", 400, `{"Fault":{"Error":[{"Message":"Required param missing","Detail":"Required parameter Line is missing in the request","code":"2020","element":"Line"}],"type":"ValidationFault"}}`,
			CodeValidation, false, "2020", "Line"},
		{"invalid ref", 400, `{"Fault":{"Error":[{"Message":"Invalid Reference Id","Detail":"Invalid Reference Id : Line.SalesItemLineDetail.ItemRef","code":"2500"}],"type":"ValidationFault"}}`,
			CodeValidation, false, "2500", ""},
		{"401 lowercase fault", 401, `{"warnings":null,"intuitObject":null,"fault":{"error":[{"message":"message=AuthenticationFailed; errorCode=003200; statusCode=401","detail":"Token expired: 12","code":"3200","element":null}],"type":"AUTHENTICATION"},"report":null,"time":1700000000000,"cdcresponse":[]}`,
			CodeAuthExpired, false, "3200", ""},
		{"403 lowercase fault", 403, `{"fault":{"error":[{"message":"message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403","detail":"","code":"3100","element":null}],"type":"SERVICE"}}`,
			CodeForbidden, false, "3100", ""},
		{"429 xml", 429, `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><IntuitResponse time="2024-01-10T09:15:02.123-08:00" xmlns="http://schema.intuit.com/finance/v3"><Fault type="SERVICE"><Error code="3001"><Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message><Detail>The request limit was reached.  Try again later</Detail></Error></Fault></IntuitResponse>`,
			CodeRateLimited, true, "3001", ""},
		{"429 lowercase json", 429, `{"fault":{"error":[{"message":"message=ThrottleExceeded; errorCode=003001; statusCode=429","detail":"The request limit was reached.","code":"3001","element":null}],"type":"SERVICE"},"time":1700000000000}`,
			CodeRateLimited, true, "3001", ""},
		{"system fault", 500, `{"Fault":{"Error":[{"Message":"An application error has occurred","Detail":"System Failure Error","code":"10000"}],"type":"SystemFault"}}`,
			CodeUnavailable, true, "10000", ""},
		{"gateway 502 html", 502, `<html><body>Bad Gateway</body></html>`, CodeUnavailable, true, "", ""},
		{"404 without body", 404, ``, CodeNotFound, false, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := parseFault([]byte(tc.body))
			if f == nil {
				f = &Fault{Type: http.StatusText(tc.status)}
			}
			f.HTTPStatus, f.Op = tc.status, "POST customer"
			err := error(classify(f, 0))
			if got := syncerr.CodeOf(err); got != tc.code {
				t.Fatalf("code %s, want %s (%v)", got, tc.code, err)
			}
			if got := syncerr.IsRetryable(err); got != tc.retryable {
				t.Fatalf("retryable %v, want %v", got, tc.retryable)
			}
			if f.Code() != tc.qboCode {
				t.Fatalf("qbo code %q, want %q", f.Code(), tc.qboCode)
			}
			if tc.element != "" && f.Errors[0].Element != tc.element {
				t.Fatalf("element %q", f.Errors[0].Element)
			}
			var got *Fault
			if !errors.As(fmt.Errorf("wrapped: %w", err), &got) || got != f {
				t.Fatal("fault not reachable with errors.As")
			}
		})
	}
}

func TestRetryAfterKeptOnRateLimit(t *testing.T) {
	f := &Fault{HTTPStatus: 429}
	err := classify(f, 7*time.Second)
	if syncerr.RetryAfterOf(err) != 7*time.Second || !syncerr.IsRetryable(err) {
		t.Fatalf("%+v", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
	}{
		{"", 0}, {"3", 3 * time.Second}, {"1.5", 1500 * time.Millisecond}, {"-1", 0}, {"soon", 0},
		{now.Add(10 * time.Second).Format(http.TimeFormat), 10 * time.Second},
		{now.Add(-10 * time.Second).Format(http.TimeFormat), 0},
	}
	for _, tc := range cases {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("%q: %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestTokenErrors(t *testing.T) {
	resp := func(code int) *http.Response { return &http.Response{StatusCode: code} }
	coded := syncerr.RetryAfter("CONNECTION_NEEDS_RECONNECT", time.Minute, errors.New("refused"))
	cases := []struct {
		name      string
		err       error
		code      syncerr.Code
		retryable bool
		reconnect bool
	}{
		{"invalid_grant", &oauth2.RetrieveError{Response: resp(400), ErrorCode: "invalid_grant", ErrorDescription: "Incorrect or invalid refresh token",
			Body: []byte(`{"error":"invalid_grant"}`)}, CodeAuthExpired, false, true},
		{"invalid_client", &oauth2.RetrieveError{Response: resp(401), ErrorCode: "invalid_client"}, CodeAuthExpired, false, true},
		{"token endpoint down", &oauth2.RetrieveError{Response: resp(503)}, CodeUnavailable, true, false},
		{"network", errors.New("dial tcp: connection refused"), CodeUnavailable, true, false},
		{"already coded by the token store", coded, "CONNECTION_NEEDS_RECONNECT", true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tokenError(tc.err)
			if syncerr.CodeOf(err) != tc.code || syncerr.IsRetryable(err) != tc.retryable || NeedsReconnect(err) != tc.reconnect {
				t.Fatalf("%v: code %s retryable %v reconnect %v", err, syncerr.CodeOf(err), syncerr.IsRetryable(err), NeedsReconnect(err))
			}
		})
	}
}

func TestWriteBodyLeavesOutReadOnlyFields(t *testing.T) {
	inv := &Invoice{ID: "5", SyncToken: "2", TotalAmt: money.MustParse("10"), Balance: money.MustParse("10"), Domain: "QBO", MetaData: &MetaData{CreateTime: time.Now()},
		LinkedTxn: []LinkedTxn{{TxnID: "9", TxnType: "Payment"}},
		Line: []Line{{Amount: money.MustParse("10"), DetailType: DetailSalesItem, SalesItemLineDetail: &SalesItemLineDetail{Qty: money.MustParse("1"), UnitPrice: money.MustParse("10")}},
			{Amount: money.MustParse("10"), DetailType: DetailSubTotal}}}
	m, err := writeBody(inv, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"TotalAmt", "Balance", "domain", "MetaData", "LinkedTxn"} {
		if _, ok := m[k]; ok {
			t.Errorf("%s sent", k)
		}
	}
	if string(m["sparse"]) != "true" || string(m["Id"]) != `"5"` || string(m["SyncToken"]) != `"2"` {
		t.Errorf("update keys: %s %s %s", m["sparse"], m["Id"], m["SyncToken"])
	}
	var lines []Line
	if err := jsonUnmarshal(m["Line"], &lines); err != nil || len(lines) != 1 {
		t.Errorf("lines %v %+v", err, lines)
	}
	if len(inv.Line) != 2 {
		t.Error("caller's invoice changed")
	}
	cm, _ := writeBody(&Customer{ID: "1", SyncToken: "0", DisplayName: "x", Balance: money.MustParse("5")}, false)
	if _, ok := cm["Id"]; ok || string(cm["Balance"]) != "5" {
		t.Errorf("create body %v", cm)
	}
	um, _ := writeBody(&Customer{ID: "1", SyncToken: "0", DisplayName: "x", Balance: money.MustParse("5")}, true)
	if _, ok := um["Balance"]; ok {
		t.Errorf("update sends the opening balance")
	}
}

func TestBudgetBackoffDoubles(t *testing.T) {
	b := NewBudget(Limits{Backoff: time.Second, MaxBackoff: 5 * time.Second})
	var got []time.Duration
	for i := 0; i < 5; i++ {
		got = append(got, b.Throttled(0))
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("pauses %v, want %v", got, want)
		}
	}
	if d := b.Throttled(3 * time.Second); d != 3*time.Second {
		t.Fatalf("retry-after pause %v", d)
	}
	b.Succeeded()
	if d := b.Throttled(0); d != time.Second {
		t.Fatalf("after success %v", d)
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
