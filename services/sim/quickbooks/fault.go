package quickbooks

import (
	"fmt"
	"net/http"
	"strconv"
)

// fault is a QBO error answer: HTTP status plus the Fault envelope.
type fault struct {
	status int
	typ    string // ValidationFault, SystemFault, ...
	errs   []faultError
}

type faultError struct {
	Message string
	Detail  string
	Code    string
	Element string
}

func (f *fault) Error() string {
	if len(f.errs) == 0 {
		return f.typ
	}
	return f.errs[0].Code + " " + f.errs[0].Message + ": " + f.errs[0].Detail
}

// body renders the capitalised Fault object used for 4xx/5xx answers of the
// API itself and inside batch items.
func (f *fault) body() map[string]any {
	errs := make([]any, len(f.errs))
	for i, e := range f.errs {
		errs[i] = map[string]any{"Message": e.Message, "Detail": e.Detail, "code": e.Code, "element": e.Element}
	}
	return map[string]any{"Error": errs, "type": f.typ}
}

func newFault(status int, typ, code, msg, detail, element string) *fault {
	return &fault{status: status, typ: typ, errs: []faultError{{Message: msg, Detail: detail, Code: code, Element: element}}}
}

func validation(code, msg, detail, element string) *fault {
	return newFault(http.StatusBadRequest, "ValidationFault", code, msg, detail, element)
}

func faultNotFound() *fault {
	return validation("610", "Object Not Found",
		"Object Not Found : Something you're trying to use has been made inactive. Check the fields with accounts, customers, items, vendors or employees.", "")
}

func faultRequired(element string) *fault {
	return validation("2020", "Required param missing, need to supply the required value for the API",
		"Required parameter "+element+" is missing in the request", element)
}

func faultStale() *fault {
	return validation("5010", "Stale Object Error",
		"Stale Object Error : You and Sim User were working on this at the same time. Sim User finished before you did, so your work was not saved.", "")
}

func faultDuplicateName(what, existingID string) *fault {
	return validation("6240", "Duplicate Name Exists Error",
		fmt.Sprintf("The name supplied already exists. : Another %s is already using this name. Please use a different name. Id=%s", what, existingID), "")
}

func faultDuplicateDoc(doc, txnType, txnID string) *fault {
	return validation("6140", "Duplicate Document Number Error",
		fmt.Sprintf("Duplicate Document Number Error : You must specify a different number. This number has already been used. DocNumber=%s is assigned to TxnType=%s with TxnId=%s", doc, txnType, txnID), "")
}

func faultBusiness(detail, element string) *fault {
	return validation("6000", "A business validation error has occurred while processing your request",
		"Business Validation Error: "+detail, element)
}

func faultInvalidRef(element string) *fault {
	return validation("2500", "Invalid Reference Id", "Invalid Reference Id : "+element, element)
}

func faultLength(element string, max, got int) *fault {
	return validation("2050", "String length is either shorter or longer than supported by specification",
		fmt.Sprintf("String length specified does not match the supported length. Min:0 Max:%d supplied length:%d", max, got), element)
}

func faultInvalidValue(element, detail string) *fault {
	return validation("2170", "Invalid Enumeration", "Invalid Enumeration : "+detail, element)
}

func faultUnsupportedOp(detail string) *fault {
	return validation("500", "Unsupported Operation", "Operation "+detail+" is not supported.", "")
}

func faultBadProperty(detail string) *fault {
	return validation("2010", "Request has invalid or unsupported property",
		"Property Name:"+detail+" specified is unsupported or invalid", "")
}

func faultQueryParse(detail string) *fault {
	return validation("4000", "Error parsing query", detail, "")
}

func faultQueryInvalid(detail string) *fault {
	return validation("4001", "Invalid query", "QueryValidationError: "+detail, "")
}

func faultSystem(status int) *fault {
	return newFault(status, "SystemFault", "10000", "An application error has occurred while processing your request",
		"System Failure Error: an injected "+strconv.Itoa(status)+" from the simulator", "")
}

// gatewayFault renders the lowercase envelope the Intuit gateway uses for
// 401/403/429 (note "time" in epoch milliseconds).
func gatewayFault(msg, detail, code, typ string, nowMillis int64) map[string]any {
	return map[string]any{
		"warnings":     nil,
		"intuitObject": nil,
		"fault": map[string]any{
			"error": []any{map[string]any{"message": msg, "detail": detail, "code": code, "element": nil}},
			"type":  typ,
		},
		"report":             nil,
		"queryResponse":      nil,
		"batchItemResponse":  []any{},
		"attachableResponse": []any{},
		"syncErrorResponse":  nil,
		"requestId":          nil,
		"time":               nowMillis,
		"status":             nil,
		"cdcresponse":        []any{},
	}
}

const throttleXML = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` +
	`<IntuitResponse time="%s" xmlns="http://schema.intuit.com/finance/v3"><Fault type="SERVICE"><Error code="3001">` +
	`<Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message>` +
	`<Detail>The request limit was reached.  Try again later</Detail></Error></Fault></IntuitResponse>`
