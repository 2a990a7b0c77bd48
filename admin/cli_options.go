package admin

import (
	"encoding/json"
)

// adoptConfigOptions gives h, the command line's handler, the options of
// every scopegate_admin handler in cfg (the whole config, as JSON): the
// command line creates and changes clients as the admin sub-route does, so
// a config that ties API keys to users (connect_as_creator,
// require_connect_as) holds at the command line too. With several admin
// sub-routes, an option any of them sets applies: the stricter rule wins.
func (h *Handler) adoptConfigOptions(cfg []byte) error {
	if len(cfg) == 0 {
		return nil
	}
	var root any
	if err := json.Unmarshal(cfg, &root); err != nil {
		return err
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if v["handler"] == "scopegate_admin" {
				// Decoded as Caddy decodes the handler (encoding/json
				// matches option names in any case).
				var opts Handler
				if raw, err := json.Marshal(v); err == nil && json.Unmarshal(raw, &opts) == nil {
					h.ConnectAsCreator = h.ConnectAsCreator || opts.ConnectAsCreator
					h.RequireConnectAs = h.RequireConnectAs || opts.RequireConnectAs
				}
			}
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(root)
	return nil
}
