package api

import (
	"fmt"
	"maps"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/ledgersync/ledgersync/pkg/auth"
	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/filter"
	"github.com/ledgersync/ledgersync/streams"
)

// The guided setup page (P7): one page, a section per object with its
// direction, conflict winner, field mappings, filters and rules, and that
// object's configuration errors at the bottom of its section.

type option struct {
	Value, Label string
	Selected     bool
}

type filterField struct {
	Dir, Label, Text string
	Locked           bool
}

type keyValue struct{ Key, Value string }

type setupSection struct {
	Object     streams.Object
	Title      string
	S          connection.ObjectSettings
	Directions []option
	Filters    []filterField
	Options    []keyValue
	Errors     []string
	Fields     objectFields // what custom mappings can use: the pickers
}

var objectTitles = map[streams.Object]string{streams.ObjectContact: "Contacts ↔ customers", streams.ObjectProduct: "Products ↔ items",
	streams.ObjectInvoice: "Invoices", streams.ObjectPayment: "Payments"}

func setupSections(c connection.Connection, errs map[streams.Object][]string, texts map[string]string, fields map[streams.Object]objectFields) []setupSection {
	var out []setupSection
	for _, o := range streams.Objects {
		s := c.Object(o)
		sec := setupSection{Object: o, Title: objectTitles[o], S: s, Errors: errs[o], Fields: fields[o]}
		for _, d := range []struct {
			v     connection.Direction
			label string
		}{{connection.TwoWay, "Both ways"}, {connection.HubSpotToQBO, "HubSpot → QuickBooks"}, {connection.QBOToHubSpot, "QuickBooks → HubSpot"}} {
			sec.Directions = append(sec.Directions, option{Value: string(d.v), Label: d.label, Selected: s.Direction == d.v})
		}
		for _, d := range []struct {
			v     connection.Direction
			label string
		}{{connection.HubSpotToQBO, "Records leaving HubSpot"}, {connection.QBOToHubSpot, "Records leaving QuickBooks"}} {
			f := s.Filters[d.v]
			text, ok := texts[string(o)+".filter."+string(d.v)]
			if !ok {
				text = filter.Format(f)
			}
			sec.Filters = append(sec.Filters, filterField{Dir: string(d.v), Label: d.label, Text: text, Locked: f.Locked})
		}
		for k, v := range s.Options {
			sec.Options = append(sec.Options, keyValue{k, v})
		}
		sort.Slice(sec.Options, func(i, j int) bool { return sec.Options[i].Key < sec.Options[j].Key })
		out = append(out, sec)
	}
	return out
}

func (s *Service) renderSetup(w http.ResponseWriter, r *http.Request, status int, c connection.Connection, errs map[streams.Object][]string,
	texts map[string]string, saved bool) {
	me := principalOf(r.Context())
	s.render(w, status, "setup", struct {
		page
		Conn     connection.Connection
		Sections []setupSection
		Types    []string
		CanEdit  bool
		Saved    bool
	}{page{Title: "Setup · " + c.ID, Me: me}, c, setupSections(c, errs, texts, s.mappableFields(r.Context(), c)), []string{"string", "number", "money", "date", "bool", "enum"},
		me.Role.Allows(auth.RoleIntegrationAdmin) && me.CSRF != "", saved})
}

// setupPage shows the settings; viewers see them without the controls.
func (s *Service) setupPage(w http.ResponseWriter, r *http.Request) {
	c, ok := s.connectionOf(w, r)
	if !ok {
		return
	}
	s.renderSetup(w, r, http.StatusOK, c, nil, nil, r.URL.Query().Get("saved") == "1")
}

// setupForm applies the page: every object's section is read and checked;
// with any problem nothing is saved and each section lists its own.
func (s *Service) setupForm(w http.ResponseWriter, r *http.Request) {
	c, ok := s.connectionOf(w, r)
	if !ok {
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "unreadable form", http.StatusBadRequest)
		return
	}
	form := r.PostForm
	errs := map[streams.Object][]string{}
	texts := map[string]string{}
	next := map[streams.Object]connection.ObjectSettings{}
	for _, o := range streams.Objects {
		cur := c.Object(o)
		set := cur
		p := string(o) + "."
		set.Enabled = form.Get(p+"enabled") == "on"
		set.Direction = connection.Direction(form.Get(p + "direction"))
		set.ConflictWinner = streams.System(form.Get(p + "winner"))
		if set.ConflictWinner != streams.SystemHubSpot && set.ConflictWinner != streams.SystemQBO {
			errs[o] = append(errs[o], fmt.Sprintf("conflict winner %q: hubspot or qbo", set.ConflictWinner))
		}
		set.Mappings = nil
		for i, m := range cur.Mappings {
			k := p + "map." + strconv.Itoa(i) + "."
			m.Enabled = form.Get(k+"enabled") == "on"
			if !m.Default {
				if form.Get(k+"delete") == "on" {
					continue
				}
				m.HubSpot, m.QBO, m.Type = strings.TrimSpace(form.Get(k+"hubspot")), strings.TrimSpace(form.Get(k+"qbo")), form.Get(k+"type")
			}
			set.Mappings = append(set.Mappings, m)
		}
		if h, q := strings.TrimSpace(form.Get(p+"map.new.hubspot")), strings.TrimSpace(form.Get(p+"map.new.qbo")); h != "" || q != "" {
			set.Mappings = append(set.Mappings, connection.Mapping{HubSpot: h, QBO: q, Type: form.Get(p + "map.new.type"), Enabled: true})
		}
		set.Filters = map[connection.Direction]filter.Filter{}
		for _, d := range []connection.Direction{connection.HubSpotToQBO, connection.QBOToHubSpot} {
			if f := cur.Filters[d]; f.Locked {
				set.Filters[d] = f // fixed (P6): kept whatever the form says
				continue
			}
			key := p + "filter." + string(d)
			texts[key] = form.Get(key)
			f, err := filter.Parse(form.Get(key))
			if err != nil {
				errs[o] = append(errs[o], fmt.Sprintf("filter for %s: %v", strings.ReplaceAll(string(d), "_", " "), err))
				continue
			}
			if len(f.Groups) > 0 {
				set.Filters[d] = f
			}
		}
		set.Options = maps.Clone(cur.Options)
		for k := range cur.Options {
			if v, given := form[p+"opt."+k]; given {
				set.Options[k] = strings.TrimSpace(v[0])
			}
		}
		if err := set.Validate(o); err != nil {
			errs[o] = append(errs[o], splitLines(err.Error())...)
		}
		next[o] = set
	}
	for o, problems := range s.checkMappings(r.Context(), c, next) {
		errs[o] = append(errs[o], problems...)
	}
	if len(errs) > 0 {
		shown := c
		shown.Objects = next
		s.renderSetup(w, r, http.StatusBadRequest, shown, errs, texts, false)
		return
	}
	if _, err := s.conns.Update(r.Context(), c.ID, func(cc *connection.Connection) error {
		for o, set := range next {
			cc.Objects[o] = set
		}
		return nil
	}); err != nil {
		http.Error(w, "the settings could not be saved: "+err.Error(), http.StatusConflict)
		return
	}
	s.logger.Info("settings saved", "connection", c.ID, "user_id", principalOf(r.Context()).UserID)
	http.Redirect(w, r, "/app/connections/"+c.ID+"/setup?saved=1", http.StatusSeeOther)
}
