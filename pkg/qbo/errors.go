package qbo

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/ledgersync/ledgersync/pkg/syncerr"
)

// Stable failure codes raised by the QBO client. They decide retry versus
// dead-letter and are what users see as the failure category.
const (
	// CodeDuplicateName: DisplayName (Customer/Vendor/Employee) or Item Name
	// already in use, active or not (QBO 6240). Permanent: never rename.
	CodeDuplicateName syncerr.Code = "QBO_DUPLICATE_NAME"
	// CodeDuplicateDocNumber: DocNumber reused with the duplicate check on
	// (QBO 6140). Permanent.
	CodeDuplicateDocNumber syncerr.Code = "QBO_DUPLICATE_DOC_NUMBER"
	// CodeStaleObject: the SyncToken sent is not the current one (QBO 5010).
	// Retryable: the caller re-reads the object and resolves again.
	CodeStaleObject syncerr.Code = "QBO_STALE_OBJECT"
	// CodeNotFound: the object does not exist, was deleted or is inactive
	// (QBO 610). Permanent.
	CodeNotFound syncerr.Code = "QBO_NOT_FOUND"
	// CodeTaxRequired: a non-US company refused a sales line without a tax
	// code (QBO 6000 with the VAT/GST/tax code message). Permanent.
	CodeTaxRequired syncerr.Code = "TAX_REQUIRED"
	// CodeValidation: any other validation or business rule fault (2010,
	// 2020, 2050, 2500, 4000, 6000 ...). Permanent.
	CodeValidation = syncerr.CodeValidation
	// CodeRateLimited: HTTP 429 / QBO 3001. Retryable, after RetryAfter when
	// the server said so.
	CodeRateLimited = syncerr.CodeRateLimited
	// CodeAuthExpired: the access token was refused (HTTP 401 / QBO 3200) or
	// the refresh grant was refused (invalid_grant). Permanent for the
	// record; see NeedsReconnect for the connection.
	CodeAuthExpired syncerr.Code = "AUTH_EXPIRED"
	// CodeForbidden: the app is not authorized for the realm (HTTP 403 /
	// QBO 3100: disconnected app, lapsed subscription, sandbox token against
	// production). Permanent; the connection needs attention.
	CodeForbidden syncerr.Code = "QBO_FORBIDDEN"
	// CodeUnavailable: 5xx, timeouts, connection failures. Retryable.
	CodeUnavailable = syncerr.CodeUnavailable
)

// FaultError is one entry of QBO's Fault.Error list.
type FaultError struct {
	Message string `json:"Message"`
	Detail  string `json:"Detail"`
	Code    string `json:"code"`
	Element string `json:"element"`
}

// Fault is a QBO error answer: the HTTP status and the parsed Fault
// envelope (capitalised API fault, lowercase gateway fault, or XML). It is
// the cause inside the *syncerr.Error returned by the client; reach it with
// errors.As.
type Fault struct {
	Op         string // "POST customer", "GET invoice", "batch item b3" ...
	HTTPStatus int
	Type       string // ValidationFault, SystemFault, AUTHENTICATION, SERVICE ...
	Errors     []FaultError
	IntuitTID  string
}

// Code returns the first error's QBO code ("6240"), or "".
func (f *Fault) Code() string {
	if len(f.Errors) == 0 {
		return ""
	}
	return f.Errors[0].Code
}

func (f *Fault) Error() string {
	var sb strings.Builder
	sb.WriteString("qbo: ")
	if f.Op != "" {
		sb.WriteString(f.Op)
		sb.WriteString(": ")
	}
	if f.HTTPStatus != 0 {
		sb.WriteString(strconv.Itoa(f.HTTPStatus))
		sb.WriteString(" ")
	}
	if f.Type != "" {
		sb.WriteString(f.Type)
	}
	for i, e := range f.Errors {
		if i > 0 {
			sb.WriteString(";")
		}
		fmt.Fprintf(&sb, " [%s] %s", e.Code, e.Message)
		if e.Detail != "" && e.Detail != e.Message {
			sb.WriteString(": ")
			sb.WriteString(e.Detail)
		}
		if e.Element != "" {
			sb.WriteString(" (element ")
			sb.WriteString(e.Element)
			sb.WriteString(")")
		}
	}
	if f.IntuitTID != "" {
		sb.WriteString(" intuit_tid=")
		sb.WriteString(f.IntuitTID)
	}
	return sb.String()
}

// AuthError is the cause of an AUTH_EXPIRED error.
type AuthError struct {
	// Refresh is true when the OAuth refresh grant itself was refused
	// (invalid_grant, invalid_client): the connection needs a reconnect.
	Refresh bool
	// Status is the HTTP status of the refusal.
	Status int
	// Reason is the OAuth error code or QBO fault code ("invalid_grant", "3200").
	Reason string
	// Detail is the server's description (never a token).
	Detail string
}

func (e *AuthError) Error() string {
	what := "access token refused"
	if e.Refresh {
		what = "oauth refresh refused"
	}
	s := "qbo: " + what
	if e.Status != 0 {
		s += " (" + strconv.Itoa(e.Status) + ")"
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// NeedsReconnect reports whether err means the connection's credentials are
// gone for good (refresh refused, app disconnected or not authorized), so
// the caller should mark the connection "needs reconnect" instead of failing
// records one by one.
func NeedsReconnect(err error) bool {
	var ae *AuthError
	if errors.As(err, &ae) && ae.Refresh {
		return true
	}
	return syncerr.CodeOf(err) == CodeForbidden
}

// IsAuthError reports an AUTH_EXPIRED or QBO_FORBIDDEN error.
func IsAuthError(err error) bool {
	c := syncerr.CodeOf(err)
	return c == CodeAuthExpired || c == CodeForbidden
}

// --- parsing -------------------------------------------------------------------

// parseFault reads any of the three fault shapes from an error body. It
// returns nil when the body holds none of them.
func parseFault(body []byte) *Fault {
	trimmed := strings.TrimSpace(string(body))
	if trimmed == "" {
		return nil
	}
	if trimmed[0] == '<' {
		return parseXMLFault(body)
	}
	var env struct {
		Fault *struct {
			Error []FaultError `json:"Error"`
			Type  string       `json:"type"`
		} `json:"Fault"`
		LowerFault *struct {
			Error []struct {
				Message string  `json:"message"`
				Detail  string  `json:"detail"`
				Code    string  `json:"code"`
				Element *string `json:"element"`
			} `json:"error"`
			Type string `json:"type"`
		} `json:"fault"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil
	}
	switch {
	case env.Fault != nil:
		return &Fault{Type: env.Fault.Type, Errors: env.Fault.Error}
	case env.LowerFault != nil:
		f := &Fault{Type: env.LowerFault.Type}
		for _, e := range env.LowerFault.Error {
			fe := FaultError{Message: e.Message, Detail: e.Detail, Code: e.Code}
			if e.Element != nil {
				fe.Element = *e.Element
			}
			f.Errors = append(f.Errors, fe)
		}
		return f
	}
	return nil
}

func parseXMLFault(body []byte) *Fault {
	var doc struct {
		Fault *struct {
			Type  string `xml:"type,attr"`
			Error []struct {
				Code    string `xml:"code,attr"`
				Element string `xml:"element,attr"`
				Message string `xml:"Message"`
				Detail  string `xml:"Detail"`
			} `xml:"Error"`
		} `xml:"Fault"`
	}
	if err := xml.Unmarshal(body, &doc); err != nil || doc.Fault == nil {
		return nil
	}
	f := &Fault{Type: doc.Fault.Type}
	for _, e := range doc.Fault.Error {
		f.Errors = append(f.Errors, FaultError{Message: e.Message, Detail: e.Detail, Code: e.Code, Element: e.Element})
	}
	return f
}

// classify turns a fault (HTTP status already set) into a coded error.
// retryAfter is the server's Retry-After, 0 when absent.
func classify(f *Fault, retryAfter time.Duration) *syncerr.Error {
	code := f.Code()
	status := f.HTTPStatus
	switch {
	case status == http.StatusTooManyRequests || code == "3001":
		if retryAfter > 0 {
			return syncerr.RetryAfter(CodeRateLimited, retryAfter, f)
		}
		return syncerr.Transient(CodeRateLimited, f)
	case status == http.StatusUnauthorized || code == "3200" || code == "100":
		d := ""
		if len(f.Errors) > 0 {
			d = f.Errors[0].Detail
		}
		return syncerr.Permanent(CodeAuthExpired, &authFault{Fault: f, auth: AuthError{Status: status, Reason: code, Detail: d}})
	case status == http.StatusForbidden || code == "3100":
		return syncerr.Permanent(CodeForbidden, f)
	case status >= 500 || strings.EqualFold(f.Type, "SystemFault") || code == "10000":
		if retryAfter > 0 {
			return syncerr.RetryAfter(CodeUnavailable, retryAfter, f)
		}
		return syncerr.Transient(CodeUnavailable, f)
	}
	switch code {
	case "6240":
		return syncerr.Permanent(CodeDuplicateName, f)
	case "6140":
		return syncerr.Permanent(CodeDuplicateDocNumber, f)
	case "5010":
		return syncerr.Transient(CodeStaleObject, f)
	case "610":
		return syncerr.Permanent(CodeNotFound, f)
	case "6000":
		if isTaxMessage(f) {
			return syncerr.Permanent(CodeTaxRequired, f)
		}
	}
	if status == http.StatusNotFound && code == "" {
		return syncerr.Permanent(CodeNotFound, f)
	}
	return syncerr.Permanent(CodeValidation, f)
}

// authFault is a Fault that also answers errors.As(*AuthError).
type authFault struct {
	*Fault
	auth AuthError
}

func (a *authFault) Unwrap() error { return a.Fault }

func (a *authFault) As(target any) bool {
	if t, ok := target.(**AuthError); ok {
		*t = &a.auth
		return true
	}
	return false
}

// isTaxMessage recognises QBO's region-specific "line without a tax code"
// business validation texts (VAT rate, GST/HST rate, GST rate, tax code).
func isTaxMessage(f *Fault) bool {
	for _, e := range f.Errors {
		d := strings.ToLower(e.Detail + " " + e.Message)
		for _, s := range []string{"vat rate", "gst/hst rate", "gst rate", "tax code", "tax rate", "taxcode"} {
			if strings.Contains(d, s) {
				return true
			}
		}
	}
	return false
}

// tokenError classifies a failure of the token source. Errors that already
// carry a code (the project's token store) pass through unchanged.
func tokenError(err error) error {
	var se *syncerr.Error
	if errors.As(err, &se) {
		return err
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		refused := false
		switch re.ErrorCode {
		case "invalid_grant", "invalid_client", "unauthorized_client":
			refused = true
		default:
			refused = status == http.StatusBadRequest || status == http.StatusUnauthorized
		}
		if refused {
			// Our own message: the RetrieveError's text quotes the body.
			return syncerr.Permanent(CodeAuthExpired, &AuthError{Refresh: true, Status: status, Reason: re.ErrorCode, Detail: re.ErrorDescription})
		}
		return syncerr.Transient(CodeUnavailable, fmt.Errorf("qbo: oauth token endpoint answered %d", status))
	}
	return syncerr.Transient(CodeUnavailable, fmt.Errorf("qbo: get access token: %w", err))
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func parseRetryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if n, err := strconv.ParseFloat(h, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(n * float64(time.Second))
	}
	if t, err := http.ParseTime(h); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
