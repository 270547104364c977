package quickbooks

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	// goccy/go-json, drop-in: decoding the /batch requests and entities
	// of a first sync with encoding/json was over 2% of the CPU of the
	// all-in-one benchmark (the simulator runs in its process).
	json "github.com/goccy/go-json"
)

const maxBody = 4 << 20

func writeRaw(w http.ResponseWriter, status int, ctype string, body []byte) {
	w.Header().Set("Content-Type", ctype)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// answer is a rendered API response.
type answer struct {
	status int
	ctype  string
	body   []byte
}

func (s *Server) render(r *http.Request, status int, body map[string]any) answer {
	body["time"] = qboTimeMillis(s.now())
	ctype, b := encodeBody(body, wantsJSON(r))
	return answer{status: status, ctype: ctype, body: b}
}

func (s *Server) renderFault(r *http.Request, f *fault) answer {
	return s.render(r, f.status, map[string]any{"Fault": f.body()})
}

func (a answer) write(w http.ResponseWriter) { writeRaw(w, a.status, a.ctype, a.body) }

// handleAPI serves /v3/company/{realm}/...: authentication, throttling,
// injected faults, then dispatch.
func (s *Server) handleAPI(w http.ResponseWriter, r *http.Request) {
	realmID := r.PathValue("realm")
	now := s.now()
	tok, hasBearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	var tokRealm, detail string
	if !hasBearer || strings.TrimSpace(tok) == "" {
		detail = "Token invalid"
	} else {
		tokRealm, detail = s.auth.accessRealm(strings.TrimSpace(tok), now)
	}
	if detail != "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="Intuit", error="invalid_token"`)
		writeRaw(w, http.StatusUnauthorized, "application/json;charset=UTF-8", mustJSON(gatewayFault(
			"message=AuthenticationFailed; errorCode=003200; statusCode=401", detail, "3200", "AUTHENTICATION", now.UnixMilli())))
		return
	}
	rm := s.realm(realmID)
	if tokRealm != realmID || rm == nil {
		writeRaw(w, http.StatusForbidden, "application/json;charset=UTF-8", mustJSON(gatewayFault(
			"message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403", "", "3100", "SERVICE", now.UnixMilli())))
		return
	}
	rest := r.PathValue("rest")
	if status, latency := s.faults.take(realmID, rest); status != 0 || latency != 0 {
		if latency > 0 {
			select {
			case <-time.After(latency):
			case <-r.Context().Done():
				return
			}
		}
		switch {
		case status == http.StatusTooManyRequests:
			s.writeThrottled(w)
			return
		case status >= 400:
			s.renderFault(r, faultSystem(status)).write(w)
			return
		}
	}
	if s.throttle.Load() {
		if !rm.lim.admit(now, rest == "batch") {
			s.log.Info("qbo request throttled", "realm_id", realmID, "path", rest)
			s.writeThrottled(w)
			return
		}
		defer rm.lim.release()
	}
	s.dispatch(w, r, rm, rest).write(w)
}

func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, rm *realm, rest string) answer {
	parts := strings.Split(strings.Trim(rest, "/"), "/")
	seg := strings.ToLower(parts[0])
	switch {
	case seg == "query" && len(parts) == 1 && (r.Method == http.MethodGet || r.Method == http.MethodPost):
		q := r.URL.Query().Get("query")
		if r.Method == http.MethodPost && q == "" {
			b, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
			if err != nil {
				return s.renderFault(r, faultQueryParse("QueryParserError: could not read the request body"))
			}
			q = string(b)
		}
		rm.mu.RLock()
		body, f := s.runQuery(rm, q)
		var a answer
		if f != nil {
			a = s.renderFault(r, f)
		} else {
			a = s.render(r, http.StatusOK, map[string]any{"QueryResponse": body})
		}
		rm.mu.RUnlock()
		return a
	case seg == "cdc" && len(parts) == 1 && r.Method == http.MethodGet:
		rm.mu.RLock()
		defer rm.mu.RUnlock()
		body, f := s.runCDC(rm, r.URL.Query().Get("entities"), r.URL.Query().Get("changedSince"))
		if f != nil {
			return s.renderFault(r, f)
		}
		return s.render(r, http.StatusOK, map[string]any{"CDCResponse": []any{map[string]any{"QueryResponse": body}}})
	case seg == "batch" && len(parts) == 1 && r.Method == http.MethodPost:
		return s.write(w, r, rm, func(in []byte, oc *opCtx) (map[string]any, *fault) { return s.runBatch(rm, in, oc) })
	}
	entity, ok := entityNames[seg]
	if !ok {
		return s.renderFault(r, faultUnsupportedOp(fmt.Sprintf("%s %s", r.Method, seg)))
	}
	switch {
	case r.Method == http.MethodGet && (len(parts) == 2 || len(parts) == 1 && entity == entPreferences):
		id := ""
		if len(parts) == 2 {
			id = parts[1]
		}
		switch entity {
		case entPreferences:
			id = "1"
		case entCompanyInfo:
			if id != rm.id {
				return s.renderFault(r, faultNotFound())
			}
			id = "1"
		}
		rm.mu.RLock()
		defer rm.mu.RUnlock()
		rec, ok := rm.get(entity, id)
		if !ok {
			return s.renderFault(r, faultNotFound())
		}
		if wantsJSON(r) {
			// Fast path: the stored JSON, wrapped as json.Marshal would.
			b := make([]byte, 0, len(rec.rawJSON())+len(entity)+48)
			b = append(b, `{"`...)
			b = append(b, entity...)
			b = append(b, `":`...)
			b = append(b, rec.rawJSON()...)
			b = append(b, `,"time":"`...)
			b = append(b, qboTimeMillis(s.now())...)
			b = append(b, `"}`...)
			return answer{status: http.StatusOK, ctype: "application/json;charset=UTF-8", body: b}
		}
		return s.render(r, http.StatusOK, map[string]any{entity: rec.obj})
	case r.Method == http.MethodPost && len(parts) == 1:
		op := strings.ToLower(r.URL.Query().Get("operation"))
		include := strings.ToLower(r.URL.Query().Get("include"))
		return s.write(w, r, rm, func(in []byte, oc *opCtx) (map[string]any, *fault) {
			obj, f := decodeObject(in)
			if f != nil {
				return nil, f
			}
			if entity == entCompanyInfo && str(obj["Id"]) == rm.id {
				obj["Id"] = "1"
			}
			res, f := rm.apply(entity, op, include, obj, oc)
			if f != nil {
				return nil, f
			}
			return map[string]any{entity: res}, nil
		})
	}
	return s.renderFault(r, faultUnsupportedOp(fmt.Sprintf("%s %s", r.Method, rest)))
}

// apply runs one write operation (shared by the entity endpoints and batch).
func (rm *realm) apply(entity, op, include string, obj map[string]any, oc *opCtx) (map[string]any, *fault) {
	oc.allowDupDoc = strings.Contains(include, "allowduplicatedocnum")
	switch op {
	case "", "create", "update":
		if str(obj["Id"]) == "" {
			if op == "update" {
				return nil, faultRequired("Id")
			}
			return rm.create(entity, obj, oc)
		}
		if strings.Contains(include, "void") {
			return rm.void(entity, obj, oc)
		}
		return rm.update(entity, obj, oc)
	case "delete":
		return rm.remove(entity, obj, oc)
	case "void":
		return rm.void(entity, obj, oc)
	}
	return nil, faultUnsupportedOp(op)
}

func decodeObject(b []byte) (map[string]any, *fault) {
	dec := json.NewDecoder(bytes.NewReader(b))
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil {
		msg := "the request body is not a JSON object"
		if err != nil {
			msg = strings.ReplaceAll(err.Error(), "json: ", "")
		}
		return nil, faultBadProperty(msg)
	}
	if dec.More() {
		return nil, faultBadProperty("trailing data after the JSON object")
	}
	return obj, nil
}

// write runs a state-changing request under the realm lock with requestid
// idempotency, then hands the changes to the webhook sender.
func (s *Server) write(w http.ResponseWriter, r *http.Request, rm *realm, fn func([]byte, *opCtx) (map[string]any, *fault)) answer {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return s.renderFault(r, validation("2010", "Request has invalid or unsupported property", "The request body is too large or unreadable", ""))
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "" && mt != "application/json" && mt != "text/plain" {
		return s.renderFault(r, newFault(http.StatusUnsupportedMediaType, "ValidationFault", "2010",
			"Request has invalid or unsupported property", "Unsupported Content-Type "+mt+": send application/json", ""))
	}
	reqID := r.URL.Query().Get("requestid")
	now := s.now()
	rm.mu.Lock()
	if reqID != "" {
		if e, ok := rm.idem[reqID]; ok && now.Sub(e.at) < s.cfg.RequestIDWindow {
			rm.mu.Unlock()
			return answer{status: e.status, ctype: e.ctype, body: e.body}
		}
	}
	oc := &opCtx{now: now, deactDelete: s.cfg.WebhookDeactivateAsDelete.On()}
	res, f := fn(body, oc)
	var a answer
	if f != nil {
		a = s.renderFault(r, f)
	} else {
		a = s.render(r, http.StatusOK, res)
	}
	if reqID != "" {
		if len(rm.idem) > 10000 {
			for k, e := range rm.idem {
				if now.Sub(e.at) >= s.cfg.RequestIDWindow {
					delete(rm.idem, k)
				}
			}
		}
		rm.idem[reqID] = idemEntry{at: now, status: a.status, ctype: a.ctype, body: a.body}
	}
	rm.mu.Unlock()
	if f != nil {
		s.log.Info("qbo write refused", "realm_id", rm.id, "path", r.PathValue("rest"), "fault_code", f.errs[0].Code)
	}
	if s.hooks != nil && len(oc.events) > 0 {
		s.hooks.enqueue(rm.id, oc.events)
	}
	return a
}
