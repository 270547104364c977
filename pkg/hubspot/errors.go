package hubspot

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/ledgersync/ledgersync/pkg/syncerr"
)

// Error codes raised by this client. They decide retry versus dead-letter
// and are what users see as the failure category.
const (
	// CodeConflict: 409, e.g. a contact with that e-mail already exists
	// (ExistingID gives its id). Permanent.
	CodeConflict syncerr.Code = "HS_CONFLICT"
	// CodeValidation: 400 VALIDATION_ERROR (PROPERTY_DOESNT_EXIST,
	// INVALID_*, READ_ONLY_VALUE ...). Permanent; the text names the property.
	CodeValidation = syncerr.CodeValidation
	// CodeNotFound: 404 OBJECT_NOT_FOUND. Permanent.
	CodeNotFound syncerr.Code = "HS_NOT_FOUND"
	// CodeRateLimited: 429 or the local budget ran dry (daily limit).
	// Retryable after RetryAfter.
	CodeRateLimited = syncerr.CodeRateLimited
	// CodeAuthExpired: 401 (INVALID_AUTHENTICATION, EXPIRED_AUTHENTICATION)
	// or a refused token refresh (BAD_REFRESH_TOKEN, invalid_grant).
	// Permanent for the record; the connection needs a reconnect.
	CodeAuthExpired syncerr.Code = "AUTH_EXPIRED"
	// CodeForbidden: 403, typically MISSING_SCOPES. Permanent; the
	// connection needs a reconnect with more scopes.
	CodeForbidden syncerr.Code = "HS_FORBIDDEN"
	// CodeUnavailable: 5xx, 423, 477, network errors and timeouts. Retryable.
	CodeUnavailable = syncerr.CodeUnavailable
	// CodeWriteUnconfirmed: a create failed with an unknown outcome (5xx,
	// timeout): the record may exist. Retryable, but look the record up by
	// its unique property first instead of creating blindly.
	CodeWriteUnconfirmed syncerr.Code = "HS_WRITE_UNCONFIRMED"
	// CodeRejected: another 4xx HubSpot refused. Permanent.
	CodeRejected syncerr.Code = "HS_REJECTED"
)

// ErrorDetail is one entry of errors[] in HubSpot's error body.
type ErrorDetail struct {
	Message     string              `json:"message"`
	Code        string              `json:"code,omitempty"`
	In          string              `json:"in,omitempty"`
	SubCategory string              `json:"subCategory,omitempty"`
	Context     map[string][]string `json:"context,omitempty"`
}

// APIError is HubSpot's error body plus the request it answered. It is
// the Err inside the *syncerr.Error the client returns.
type APIError struct {
	HTTPStatus    int                 `json:"-"`
	Method        string              `json:"-"`
	Route         string              `json:"-"` // route pattern, never the raw path
	ObjectType    string              `json:"-"` // e.g. contacts, or contacts>companies
	Status        string              `json:"status"`
	Message       string              `json:"message"`
	CorrelationID string              `json:"correlationId"`
	Category      string              `json:"category"`
	SubCategory   string              `json:"subCategory,omitempty"`
	Errors        []ErrorDetail       `json:"errors,omitempty"`
	Context       map[string][]string `json:"context,omitempty"`
	// 429 bodies carry errorType and policyName instead of a category.
	ErrorType  string `json:"errorType,omitempty"`
	PolicyName string `json:"policyName,omitempty"`
	// RetryAfter is the server's Retry-After, when it sent one.
	RetryAfter time.Duration `json:"-"`
	// Window is X-HubSpot-RateLimit-Interval-Milliseconds, when sent.
	Window time.Duration `json:"-"`
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("hubspot: ")
	if e.Method != "" {
		b.WriteString(e.Method + " " + e.Route)
		if e.ObjectType != "" {
			b.WriteString(" [" + e.ObjectType + "]")
		}
		b.WriteString(": ")
	}
	fmt.Fprintf(&b, "HTTP %d", e.HTTPStatus)
	if cat := e.category(); cat != "" {
		b.WriteString(" " + cat)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if len(e.Errors) > 0 && !strings.Contains(e.Message, "[{") {
		var parts []string
		for _, d := range e.Errors {
			p := d.Code
			if d.In != "" {
				p += " " + d.In
			}
			parts = append(parts, strings.TrimSpace(p))
		}
		b.WriteString(" [" + strings.Join(parts, "; ") + "]")
	}
	if e.CorrelationID != "" {
		b.WriteString(" (correlation id " + e.CorrelationID + ")")
	}
	return b.String()
}

func (e *APIError) category() string {
	switch {
	case e.Category != "":
		return e.Category
	case e.PolicyName != "":
		return e.PolicyName
	}
	return e.ErrorType
}

// parseError decodes an error response. Bodies that are not JSON keep a
// short prefix as the message.
func parseError(method, route string, status int, h http.Header, raw []byte) *APIError {
	e := &APIError{}
	if err := json.Unmarshal(raw, e); err != nil {
		e = &APIError{Message: strings.TrimSpace(string(raw))}
		if len(e.Message) > 200 {
			e.Message = e.Message[:200] + "..."
		}
	}
	e.HTTPStatus, e.Method, e.Route = status, method, route
	if e.CorrelationID == "" {
		e.CorrelationID = h.Get("X-HubSpot-Correlation-Id")
	}
	e.RetryAfter = parseRetryAfter(h)
	if ms, err := strconv.ParseInt(h.Get("X-HubSpot-RateLimit-Interval-Milliseconds"), 10, 64); err == nil && ms > 0 {
		e.Window = time.Duration(ms) * time.Millisecond
	}
	return e
}

func parseRetryAfter(h http.Header) time.Duration {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// classify gives an API error its code and retry decision.
func classify(e *APIError, now time.Time) *syncerr.Error {
	s := e.HTTPStatus
	switch {
	case s == http.StatusTooManyRequests:
		d := e.RetryAfter
		if d <= 0 {
			switch strings.ToUpper(e.PolicyName) {
			case "DAILY":
				d = untilMidnightUTC(now)
			case "SECONDLY":
				d = time.Second
			default:
				d = e.Window
				if d <= 0 {
					d = 10 * time.Second
				}
			}
		}
		return syncerr.RetryAfter(CodeRateLimited, d, e)
	case s == http.StatusUnauthorized:
		return syncerr.Permanent(CodeAuthExpired, e)
	case s == http.StatusForbidden:
		return syncerr.Permanent(CodeForbidden, e)
	case s == http.StatusNotFound:
		return syncerr.Permanent(CodeNotFound, e)
	case s == http.StatusConflict:
		return syncerr.Permanent(CodeConflict, e)
	case s == http.StatusLocked:
		d := e.RetryAfter
		if d <= 0 {
			d = 2 * time.Second // docs: wait at least 2 s
		}
		return syncerr.RetryAfter(CodeUnavailable, d, e)
	case s == 477 || s == http.StatusRequestTimeout || s >= 500:
		return syncerr.RetryAfter(CodeUnavailable, e.RetryAfter, e)
	case s == http.StatusBadRequest || s == http.StatusRequestURITooLong || s == http.StatusRequestEntityTooLarge ||
		s == http.StatusUnprocessableEntity:
		return syncerr.Permanent(CodeValidation, e)
	}
	return syncerr.Permanent(CodeRejected, e)
}

func untilMidnightUTC(now time.Time) time.Duration {
	n := now.UTC()
	next := time.Date(n.Year(), n.Month(), n.Day()+1, 0, 0, 0, 0, time.UTC)
	return next.Sub(n)
}

// tokenError maps a token source failure. A refused refresh (4xx from
// the token endpoint: BAD_REFRESH_TOKEN, invalid_grant ...) is
// CodeAuthExpired; the token endpoint being down is CodeUnavailable. The
// text never holds a token.
func tokenError(err error) error {
	var se *syncerr.Error
	if errors.As(err, &se) {
		return err // the token source already coded it
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		var body struct {
			Status           string `json:"status"`
			Message          string `json:"message"`
			CorrelationID    string `json:"correlationId"`
			Error            string `json:"error"`
			ErrorDescription string `json:"error_description"`
		}
		_ = json.Unmarshal(re.Body, &body)
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		code := body.Status
		if code == "" {
			code = body.Error
		}
		if code == "" {
			code = re.ErrorCode
		}
		msg := body.Message
		if msg == "" {
			msg = body.ErrorDescription
		}
		text := fmt.Sprintf("hubspot: token refresh refused: HTTP %d %s", status, code)
		if msg != "" {
			text += ": " + msg
		}
		if body.CorrelationID != "" {
			text += " (correlation id " + body.CorrelationID + ")"
		}
		if status >= 500 || status == http.StatusTooManyRequests {
			return syncerr.Transient(CodeUnavailable, errors.New(text))
		}
		return syncerr.Permanent(CodeAuthExpired, &TokenError{Code: code, HTTPStatus: status, text: text})
	}
	return syncerr.Transient(CodeUnavailable, fmt.Errorf("hubspot: get token: %w", redactURL(err)))
}

// TokenError is a refused token refresh.
type TokenError struct {
	Code       string // BAD_REFRESH_TOKEN, invalid_grant, ...
	HTTPStatus int
	text       string
}

func (e *TokenError) Error() string { return e.text }

// NeedsReconnect reports whether err means the connection's credentials
// are no longer accepted (401, a refused refresh, or missing scopes): the
// caller should mark the connection "needs reconnect" and hold records
// instead of failing them one by one.
func NeedsReconnect(err error) bool {
	c := syncerr.CodeOf(err)
	return c == CodeAuthExpired || c == CodeForbidden
}

var existingIDRE = regexp.MustCompile(`Existing ID:\s*(\d+)`)

// ExistingID returns the id of the record a 409 conflict names ("Contact
// already exists. Existing ID: 512").
func ExistingID(err error) (string, bool) {
	if syncerr.CodeOf(err) != CodeConflict {
		return "", false
	}
	var msg string
	var ae *APIError
	var be *BatchItemError
	switch {
	case errors.As(err, &ae):
		msg = ae.Message
	case errors.As(err, &be):
		msg = be.Message
	default:
		msg = err.Error()
	}
	m := existingIDRE.FindStringSubmatch(msg)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// PropertyProblem is one invalid property named by a validation error.
type PropertyProblem struct {
	Name    string // property name
	Code    string // PROPERTY_DOESNT_EXIST, INVALID_OPTION, READ_ONLY_VALUE ...
	Message string
}

// InvalidProperties lists the properties a validation error names, from
// errors[] or the JSON embedded in the classic message.
func InvalidProperties(err error) []PropertyProblem {
	var msg string
	var details []ErrorDetail
	var ae *APIError
	var be *BatchItemError
	switch {
	case errors.As(err, &ae):
		msg, details = ae.Message, ae.Errors
	case errors.As(err, &be):
		msg, details = be.Message, be.Errors
	default:
		return nil
	}
	var out []PropertyProblem
	for _, d := range details {
		if d.In != "" || d.Code != "" {
			out = append(out, PropertyProblem{Name: d.In, Code: d.Code, Message: d.Message})
		}
	}
	if len(out) > 0 {
		return out
	}
	if i := strings.Index(msg, "[{"); i >= 0 {
		var embedded []struct {
			Message string `json:"message"`
			Error   string `json:"error"`
			Name    string `json:"name"`
		}
		if json.Unmarshal([]byte(msg[i:]), &embedded) == nil {
			for _, p := range embedded {
				out = append(out, PropertyProblem{Name: p.Name, Code: p.Error, Message: p.Message})
			}
		}
	}
	return out
}
