package routing

import (
	"bytes"
	"encoding/json"
	"slices"

	"github.com/airouter/airouter/core/domain"
)

// Default strategy settings.
const (
	DefaultExplore       = 0.05
	DefaultWeightLatency = 0.4
	DefaultWeightSuccess = 0.3
	DefaultWeightCost    = 0.2
	DefaultWeightLoad    = 0.1
)

// strategyConfig is a parsed strategy config.
type strategyConfig struct {
	allowFallback bool    // specified_provider
	explore       float64 // response_time
	maxLatency    float64 // cost_optimized, nanoseconds; 0: no bound
	minSuccess    float64 // cost_optimized; 0: no bound
	weights       hybridWeights
}

type hybridWeights struct {
	latency, success, cost, load float64 // normalised to sum to 1
}

func defaultStrategyConfig() strategyConfig {
	return strategyConfig{
		explore: DefaultExplore,
		weights: hybridWeights{DefaultWeightLatency, DefaultWeightSuccess, DefaultWeightCost, DefaultWeightLoad},
	}
}

// strategyKeys lists the config keys each strategy accepts.
var strategyKeys = map[domain.Strategy][]string{
	domain.StrategySpecifiedProvider: {"allow_fallback"},
	domain.StrategyResponseTime:      {"explore"},
	domain.StrategyCostOptimized:     {"max_latency_ms", "min_success_rate"},
	domain.StrategyHybrid:            {"weights"},
}

// ValidateStrategyConfig checks a model's strategy config (its
// StrategyConfig JSON) for strategy s; "" is checked as auto. It returns nil
// or a *domain.Error of CodeInvalid whose Field names the offending setting,
// e.g. "strategy_config.weights.latency". Empty and null configs are valid.
//
// Settings: specified_provider {"allow_fallback": bool}; response_time
// {"explore": number in [0, 1]}; cost_optimized {"max_latency_ms": number
// ≥ 0, "min_success_rate": number in [0, 1]}; hybrid {"weights": {"latency",
// "success", "cost", "load": numbers ≥ 0, not all 0}}; the other strategies
// take none.
func ValidateStrategyConfig(s domain.Strategy, raw json.RawMessage) error {
	if s == "" {
		s = domain.StrategyAuto
	}
	if _, err := parseStrategyConfig(s, raw); err != nil {
		return err
	}
	return nil
}

// ValidateStrategyConfig is the package function with "" resolved to the
// router's default strategy.
func (r *Router) ValidateStrategyConfig(s domain.Strategy, raw json.RawMessage) error {
	if s == "" {
		s = r.o.DefaultStrategy
	}
	return ValidateStrategyConfig(s, raw)
}

const cfgField = "strategy_config"

func parseStrategyConfig(s domain.Strategy, raw json.RawMessage) (strategyConfig, *domain.Error) {
	cfg := defaultStrategyConfig()
	if !s.Valid() {
		return cfg, domain.FieldError("strategy", "unknown strategy %q", s)
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return cfg, nil
	}
	var obj map[string]json.RawMessage
	if raw[0] != '{' || json.Unmarshal(raw, &obj) != nil {
		return cfg, domain.FieldError(cfgField, "must be a JSON object")
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	allowed := strategyKeys[s]
	for _, k := range keys {
		field := cfgField + "." + k
		if !slices.Contains(allowed, k) {
			if len(allowed) == 0 {
				return cfg, domain.FieldError(field, "is not a setting: the %s strategy takes none", s)
			}
			return cfg, domain.FieldError(field, "is not a setting of the %s strategy (settings: %v)", s, allowed)
		}
		v := obj[k]
		if isNull(v) {
			continue
		}
		var err *domain.Error
		switch k {
		case "allow_fallback":
			err = decodeBool(field, v, &cfg.allowFallback)
		case "explore":
			err = decodeNumber(field, v, 0, 1, &cfg.explore)
		case "max_latency_ms":
			var ms float64
			if err = decodeNumber(field, v, 0, -1, &ms); err == nil {
				cfg.maxLatency = ms * 1e6
			}
		case "min_success_rate":
			err = decodeNumber(field, v, 0, 1, &cfg.minSuccess)
		case "weights":
			cfg.weights, err = parseWeights(field, v)
		}
		if err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

func parseWeights(field string, raw json.RawMessage) (hybridWeights, *domain.Error) {
	var obj map[string]json.RawMessage
	raw = bytes.TrimSpace(raw)
	if raw[0] != '{' || json.Unmarshal(raw, &obj) != nil {
		return hybridWeights{}, domain.FieldError(field, "must be an object of weights")
	}
	names := []string{"latency", "success", "cost", "load"}
	var w [4]float64
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		i := slices.Index(names, k)
		if i < 0 {
			return hybridWeights{}, domain.FieldError(field+"."+k, "is not a weight (weights: latency, success, cost, load)")
		}
		if isNull(obj[k]) {
			continue
		}
		if err := decodeNumber(field+"."+k, obj[k], 0, -1, &w[i]); err != nil {
			return hybridWeights{}, err
		}
	}
	sum := w[0] + w[1] + w[2] + w[3]
	if sum <= 0 {
		return hybridWeights{}, domain.FieldError(field, "must not sum to zero")
	}
	return hybridWeights{w[0] / sum, w[1] / sum, w[2] / sum, w[3] / sum}, nil
}

func isNull(v json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(v), []byte("null")) }

func decodeBool(field string, v json.RawMessage, dst *bool) *domain.Error {
	if json.Unmarshal(v, dst) != nil {
		return domain.FieldError(field, "must be a boolean")
	}
	return nil
}

// decodeNumber decodes a number in [lo, hi]; hi < lo means no upper bound.
func decodeNumber(field string, v json.RawMessage, lo, hi float64, dst *float64) *domain.Error {
	var x float64
	if json.Unmarshal(v, &x) != nil {
		return domain.FieldError(field, "must be a number")
	}
	if x < lo {
		if lo == 0 {
			return domain.FieldError(field, "must not be negative")
		}
		return domain.FieldError(field, "must be at least %g", lo)
	}
	if hi >= lo && x > hi {
		return domain.FieldError(field, "must be between %g and %g", lo, hi)
	}
	*dst = x
	return nil
}
