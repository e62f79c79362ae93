package httpapi

import "time"

// Named response bodies, so that the OpenAPI schemas get stable names that
// generated clients can use.

// ProviderList is a list of providers.
type ProviderList struct {
	Data []ProviderDTO `json:"data"`
}

// KeyList is a list of provider keys.
type KeyList struct {
	Data []KeyDTO `json:"data"`
}

// RotationList is a list of key rotations.
type RotationList struct {
	Data []RotationDTO `json:"data"`
}

// RotationStarted is a started rotation with its new (standby) key.
type RotationStarted struct {
	Rotation RotationDTO `json:"rotation"`
	NewKey   KeyDTO      `json:"new_key"`
}

// AdminModelList is a list of models with their routes.
type AdminModelList struct {
	Data []ModelDTO `json:"data"`
}

// RouteList is a list of routes.
type RouteList struct {
	Data []RouteDTO `json:"data"`
}

// ClientKeyList is a list of client keys.
type ClientKeyList struct {
	Data []ClientKeyDTO `json:"data"`
}

// ProviderHealthList is the health of every provider.
type ProviderHealthList struct {
	Data []ProviderHealthDTO `json:"data"`
}

// StatsReport is statistics over a time range.
type StatsReport struct {
	From time.Time     `json:"from"`
	To   time.Time     `json:"to"`
	Rows []StatsRowDTO `json:"rows"`
}

// LiveStats is the in-memory state of routes and keys on one replica.
type LiveStats struct {
	Routes []LiveRouteDTO `json:"routes"`
	Keys   []LiveKeyDTO   `json:"keys"`
}

// RequestLogPage is one page of the request log.
type RequestLogPage struct {
	Data       []RequestLogDTO `json:"data"`
	NextCursor string          `json:"next_cursor,omitempty"`
}
