// Package webui is the layout every daemon's HTML status page shares: one
// embedded template with its CSS and a small script (no external assets,
// no framework), a Content-Security-Policy with a fresh nonce per answer,
// and the actions' pattern: a form with data-post is posted with fetch and
// the admin token typed into the page's token field, which a browser
// cannot add by itself. The pages work without JavaScript (they show the
// status; a reload refreshes it) and refresh live with it. Everything a
// page prints goes through html/template, so text from a daemon (a server
// or client name, a probe's reason) is shown as text.
package webui

import (
	"bytes"
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

//go:embed layout.html
var layoutHTML string

//go:embed page.css
var pageCSS string

//go:embed page.js
var pageJS string

// View is what the layout shows around a page's content.
type View struct {
	Title     string // the window title
	Heading   string // the header line
	State     string // shown in the corner, coloured by Class ("": none)
	StateNote string // the corner's tooltip (the state's reason)
	CLI       string // the command that does the page's actions without JavaScript
	NeedToken bool   // the actions need the admin token: show the field
	// OwnTokenBox: the content places the token field and the actions'
	// answer itself, with {{template "token-box" $}} (else the layout puts
	// them below the content).
	OwnTokenBox bool
	NoScript    string    // the note shown without JavaScript ("": the status shows, the actions need it)
	JSON        string    // the JSON the page shows ("": /v1/status)
	Nonce       string    // set by Render
	Generated   time.Time // set by Render
	Data        any       // the page's own data, for its "content" template
}

// Page is a parsed page: the layout with one page's "content" template.
type Page struct {
	tmpl *template.Template
}

// New parses content (which defines {{define "content"}}) into the layout.
// funcs add to the layout's functions (when, ago, ms, cls, css, script).
// It panics on a template error, like template.Must: pages are embedded.
func New(name, content string, funcs template.FuncMap) *Page {
	t := template.New(name).Funcs(Funcs())
	if funcs != nil {
		t = t.Funcs(funcs)
	}
	t = template.Must(t.Parse(layoutHTML))
	return &Page{tmpl: template.Must(t.Parse(content))}
}

// Funcs are the layout's template functions.
func Funcs() template.FuncMap {
	return template.FuncMap{
		"when": When,
		"ago":  Ago,
		"ms":   MS,
		// cls takes any value: typed roles and states (gateway.Role,
		// schedsync.State, ...) are classed by their String().
		"cls":    func(v any) string { return Class(fmt.Sprint(v)) },
		"css":    func() template.CSS { return template.CSS(pageCSS) },
		"script": func() template.JS { return template.JS(pageJS) },
		"json": func(v any) (string, error) {
			b, err := json.Marshal(v)
			return string(b), err
		},
	}
}

// Render writes the page: v's content in the layout, with a new nonce in
// the Content-Security-Policy (only the page's own style and script run;
// fetch goes to this listener only). It renders into a buffer first, so
// that a template error is a 500, not half a page.
func (p *Page) Render(w http.ResponseWriter, v View, log *slog.Logger) {
	v.Nonce = Nonce()
	v.Generated = time.Now()
	var buf bytes.Buffer
	if err := p.tmpl.ExecuteTemplate(&buf, "layout", v); err != nil {
		if log != nil {
			log.Warn("status page", "err", err)
		}
		http.Error(w, "status page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Security-Policy", CSP(v.Nonce))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

// CSP is the Content-Security-Policy of a page whose style and script
// carry nonce.
func CSP(nonce string) string {
	return "default-src 'none'; script-src 'nonce-" + nonce + "'; style-src 'nonce-" + nonce +
		"'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
}

// Nonce returns a new random nonce for a CSP.
func Nonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// OwnNavigation reports whether a GET came from this listener's own pages,
// or from the operator (a typed address, a bookmark, a tool): not from a
// link or script on another site. A page that asks the operator to confirm
// an action serves its confirmation step only then, so that another site
// cannot lead the operator to a ready "yes, do it" button. It reads
// Sec-Fetch-Site, else the Referer's host (a browser without either is
// let through, like curl).
func OwnNavigation(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return true
	case "":
	default: // same-site, cross-site
		return false
	}
	ref := r.Header.Get("Referer")
	if ref == "" {
		return true
	}
	u, err := url.Parse(ref)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}
