package voter

import (
	_ "embed"
	"net/http"

	"github.com/redund/redund/internal/status"
	"github.com/redund/redund/internal/webui"
)

// PagePath is the HTML status page on the admin listener, in the manner
// of chan_voter's "voter display": per instance the clients, their RSSI,
// the one the vote picked, the timing source, the proxy link, counters.
const PagePath = "/voter"

//go:embed page.html
var pageHTML string

var statusPage = webui.New("voter", pageHTML, nil)

// pageInstance is one instance as the page shows it: its status document
// with the details read back into their types.
type pageInstance struct {
	status.Document
	D pageDetails
}

// pageDetails are the details instance.document puts in the document.
type pageDetails struct {
	Listen       string            `json:"listen"`
	MasterTiming bool              `json:"master_timing"`
	TimingSource *TimingSource     `json:"timing_source"`
	Winner       string            `json:"winner"`
	Keyed        bool              `json:"keyed"`
	AuthFailures uint64            `json:"auth_failures"`
	Counters     map[string]uint64 `json:"counters"`
	Clients      []ClientStatus    `json:"clients"`
	Cycle        CycleReport       `json:"cycle"`
	RTPOut       string            `json:"rtp_out"`
	RTPSent      uint64            `json:"rtp_sent"`
	RTPErrors    uint64            `json:"rtp_send_errors"`
	RTPIn        string            `json:"rtp_in"`
	TxPackets    uint64            `json:"tx_packets"`
	RTPInRefused uint64            `json:"rtp_in_refused"`
}

// pageData is the page's own data.
type pageData struct {
	Instances []pageInstance
	Problem   string // a document the page could not read
}

// pageHandler serves GET /voter from the documents Status builds (what
// GET /v1/status serves).
func (s *Server) pageHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		pd := readDocuments(s.Status())
		v := webui.View{Title: "redund voter", Heading: "redund voter — VOTER receivers", Data: pd}
		if len(pd.Instances) == 1 {
			v.State = pd.Instances[0].State
			v.Title += " " + pd.Instances[0].Instance + ": " + v.State
		}
		statusPage.Render(w, v, s.log)
	})
}

// readDocuments reads the voter documents' details.
func readDocuments(docs []status.Document) pageData {
	var pd pageData
	for _, doc := range docs {
		pi := pageInstance{Document: doc}
		if err := webui.Details(doc.Details, &pi.D); err != nil {
			pd.Problem = doc.Instance + ": " + err.Error()
		}
		pd.Instances = append(pd.Instances, pi)
	}
	return pd
}
