package hubspot

import (
	"fmt"
	"net/http"
	"strings"

	json "github.com/goccy/go-json"
)

// Error categories of HubSpot's error body (A7).
const (
	catValidation     = "VALIDATION_ERROR"
	catNotFound       = "OBJECT_NOT_FOUND"
	catConflict       = "CONFLICT"
	catInvalidAuth    = "INVALID_AUTHENTICATION"
	catExpiredAuth    = "EXPIRED_AUTHENTICATION"
	catInternal       = "INTERNAL_ERROR"
	catLocked         = "LOCKED"
	catBadGateway     = "BAD_GATEWAY"
	catGatewayTimeout = "GATEWAY_TIMEOUT"
)

// apiError is HubSpot's standard error body.
type apiError struct {
	httpStatus    int
	Status        string              `json:"status"`
	Message       string              `json:"message"`
	CorrelationID string              `json:"correlationId"`
	Category      string              `json:"category"`
	SubCategory   string              `json:"subCategory,omitempty"`
	Errors        []errorDetail       `json:"errors,omitempty"`
	Context       map[string][]string `json:"context,omitempty"`
	Links         map[string]string   `json:"links,omitempty"`
}

type errorDetail struct {
	Message string              `json:"message"`
	Code    string              `json:"code,omitempty"`
	In      string              `json:"in,omitempty"`
	Context map[string][]string `json:"context,omitempty"`
}

func (e *apiError) Error() string { return e.Category + ": " + e.Message }

func newError(status int, category, format string, a ...any) *apiError {
	return &apiError{httpStatus: status, Status: "error", Category: category, Message: fmt.Sprintf(format, a...)}
}

func validationErr(format string, a ...any) *apiError {
	return newError(http.StatusBadRequest, catValidation, format, a...)
}

func notFoundErr(id string) *apiError {
	e := newError(http.StatusNotFound, catNotFound, "Object not found.  objectId are usually numeric.")
	e.Context = map[string][]string{"id": {id}}
	return e
}

// propertyProblem is one entry of the classic "Property values were not
// valid" message.
type propertyProblem struct {
	IsValid bool   `json:"isValid"`
	Message string `json:"message"`
	Error   string `json:"error"`
	Name    string `json:"name"`
}

// propertyErrors builds the classic 400 with the problems embedded as JSON
// in the message and mirrored in errors[].
func propertyErrors(problems []propertyProblem) *apiError {
	b, _ := json.Marshal(problems)
	e := validationErr("Property values were not valid: %s", b)
	for _, p := range problems {
		e.Errors = append(e.Errors, errorDetail{Message: p.Message, Code: p.Error, In: p.Name})
	}
	return e
}

func contactConflict(existing int64) *apiError {
	return newError(http.StatusConflict, catConflict, "Contact already exists. Existing ID: %d", existing)
}

func invalidJSON(err error) *apiError {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "json: ")
	return validationErr("Invalid input JSON: %s", msg)
}

// writeError writes e with the request's correlation id.
func writeError(w http.ResponseWriter, r *http.Request, e *apiError) {
	if e.CorrelationID == "" {
		e.CorrelationID = correlationID(r)
	}
	if e.Status == "" {
		e.Status = "error"
	}
	writeJSON(w, e.httpStatus, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"status":"error","message":"internal error","category":"INTERNAL_ERROR"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
