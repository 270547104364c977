// Package config loads service configuration from the environment through
// go-envconfig. Every service owns one struct; shared blocks (NATS, ClickHouse,
// logging) are embedded by prefix. Load processes each variable on its own so
// that a bad start-up names every offending variable at once instead of the
// first one only.
package config

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/sethvargo/go-envconfig"
)

// Validator is implemented by config structs with rules that span fields.
// Problems must name the variable they are about.
type Validator interface {
	Validate() []Problem
}

// Problem is one offending variable.
type Problem struct {
	Variable string
	Reason   string
}

// Error lists every offending variable found by Load.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Variable + ": " + p.Reason
	}
	return fmt.Sprintf("invalid configuration (%d problem(s)): %s", len(e.Problems), strings.Join(parts, "; "))
}

// Variables returns the names of the offending variables, sorted.
func (e *Error) Variables() []string {
	out := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p.Variable
	}
	sort.Strings(out)
	return out
}

// Load fills every target (a pointer to a struct) from lookuper. It returns
// an *Error naming every variable that is missing or cannot be decoded, and
// every problem reported by targets implementing Validator.
func Load(ctx context.Context, lookuper envconfig.Lookuper, targets ...any) error {
	var problems []Problem
	for _, target := range targets {
		v := reflect.ValueOf(target)
		if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
			return fmt.Errorf("config.Load: target %T is not a pointer to a struct", target)
		}
		problems = append(problems, loadStruct(ctx, lookuper, "", v.Elem())...)
	}
	// Cross-field rules run too, so one start names everything; a variable
	// that already failed to load is not reported twice.
	failed := map[string]bool{}
	for _, p := range problems {
		failed[p.Variable] = true
	}
	for _, target := range targets {
		for _, p := range validate(reflect.ValueOf(target).Elem()) {
			if !failed[p.Variable] {
				problems = append(problems, p)
			}
		}
	}
	if len(problems) > 0 {
		return &Error{Problems: dedupe(problems)}
	}
	return nil
}

// dedupe drops repeats: two targets of one process may read one variable.
func dedupe(problems []Problem) []Problem {
	seen := map[Problem]bool{}
	out := problems[:0]
	for _, p := range problems {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// validate runs Validate on the struct and on every nested struct field.
func validate(v reflect.Value) []Problem {
	var problems []Problem
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		if f.Kind() == reflect.Struct && v.Type().Field(i).IsExported() {
			problems = append(problems, validate(f)...)
		}
	}
	if val, ok := v.Addr().Interface().(Validator); ok {
		problems = append(problems, val.Validate()...)
	}
	return problems
}

func loadStruct(ctx context.Context, lookuper envconfig.Lookuper, prefix string, v reflect.Value) []Problem {
	var problems []Problem
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		tag, hasTag := sf.Tag.Lookup("env")
		name, opts, _ := strings.Cut(tag, ",")
		name = strings.TrimSpace(name)
		if name == "" {
			// A nested block, optionally with a prefix ("env:\", prefix=NATS_\"").
			if sf.Type.Kind() != reflect.Struct {
				continue
			}
			nested := prefixOf(opts)
			lk := lookuper
			if nested != "" {
				lk = envconfig.PrefixLookuper(nested, lookuper)
			}
			problems = append(problems, loadStruct(ctx, lk, prefix+nested, v.Field(i))...)
			continue
		}
		if !hasTag {
			continue
		}
		if p := loadField(ctx, lookuper, sf, v.Field(i)); p != "" {
			problems = append(problems, Problem{Variable: prefix + name, Reason: p})
		}
	}
	return problems
}

// loadField decodes one variable through a one-field struct of the same type
// and tag, so go-envconfig's decoders, defaults and required checks apply.
func loadField(ctx context.Context, lookuper envconfig.Lookuper, sf reflect.StructField, dst reflect.Value) string {
	single := reflect.StructOf([]reflect.StructField{{Name: "V", Type: sf.Type, Tag: sf.Tag}})
	holder := reflect.New(single)
	err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: holder.Interface(), Lookuper: lookuper})
	if err != nil {
		if errors.Is(err, envconfig.ErrMissingRequired) {
			return "required but not set"
		}
		var num *strconv.NumError
		if errors.As(err, &num) {
			return fmt.Sprintf("%q is not a valid %s", num.Num, sf.Type.Kind())
		}
		return strings.TrimPrefix(err.Error(), "V: ")
	}
	dst.Set(holder.Elem().Field(0))
	return ""
}

func prefixOf(opts string) string {
	for _, o := range strings.Split(opts, ",") {
		o = strings.TrimSpace(o)
		if p, ok := strings.CutPrefix(o, "prefix="); ok {
			return p
		}
	}
	return ""
}

// Variables lists every environment variable the targets read, with
// prefixes applied, in declaration order. Docs tests compare it with
// .env.example.
func Variables(targets ...any) []string {
	var out []string
	var walk func(prefix string, t reflect.Type)
	walk = func(prefix string, t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			if !sf.IsExported() {
				continue
			}
			tag, hasTag := sf.Tag.Lookup("env")
			name, opts, _ := strings.Cut(tag, ",")
			name = strings.TrimSpace(name)
			switch {
			case name != "":
				out = append(out, prefix+name)
			case sf.Type.Kind() == reflect.Struct && (hasTag || tag == ""):
				walk(prefix+prefixOf(opts), sf.Type)
			}
		}
	}
	for _, target := range targets {
		walk("", reflect.TypeOf(target).Elem())
	}
	return out
}
