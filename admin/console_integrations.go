package admin

import (
	"net/http"
)

func (rq *request) integrationsPage() {
	off := rq.offset()
	var l list[integrationView]
	if !rq.fetch(&l, "integrations", rq.co.h.listIntegrations, http.MethodGet, pageQuery(off), nil) {
		return
	}
	rq.render(http.StatusOK, "integrations", "integrations", "Integrations & API access", struct {
		Items []integrationView
		Pager pager
	}{l.Items, newPager(off, consolePageSize, l.Total)}, nil, "")
}

// integrationPage reviews an app's requested scopes, to allow or decline.
func (rq *request) integrationPage(appID string, status int, errs map[string]string, msg string) {
	var v integrationView
	if !rq.fetch(&v, "an integration", rq.co.h.getIntegration, http.MethodGet, "", nil, "app_id", appID) {
		return
	}
	rq.render(status, "integration", "integrations", v.Name, v, errs, msg)
}

// allowIntegration posts the checked scopes to POST /integrations/{id}/allow
// and shows the generated pair once.
func (rq *request) allowIntegration(appID string) {
	scopes := rq.r.PostForm["scopes"]
	if scopes == nil {
		scopes = []string{}
	}
	a, err := rq.call(rq.co.h.allowIntegration, http.MethodPost, "", allowBody{Scopes: &scopes}, "app_id", appID)
	if err != nil {
		rq.serverError("allowing an integration", err)
		return
	}
	if a.problem != nil {
		if a.problem.Status == http.StatusBadRequest || a.problem.Status == http.StatusConflict {
			rq.integrationPage(appID, a.problem.Status, a.problem.fields(), a.problem.Detail)
			return
		}
		rq.failed(a)
		return
	}
	var p pairView
	if err := a.decode(&p); err != nil {
		rq.serverError("reading a pair", err)
		return
	}
	rq.render(http.StatusOK, "pair", "integrations", "Client ID & secret", p, nil, "")
}

func (rq *request) declineIntegration(appID string) {
	a, err := rq.call(rq.co.h.declineIntegration, http.MethodPost, "", nil, "app_id", appID)
	if err != nil {
		rq.serverError("declining an integration", err)
		return
	}
	if a.problem != nil {
		rq.failed(a)
		return
	}
	rq.redirect("/console/integrations?done=declined")
}
