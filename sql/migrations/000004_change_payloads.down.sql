DROP TRIGGER providers_notify ON providers;
DROP TRIGGER provider_keys_notify ON provider_keys;
DROP TRIGGER models_notify ON models;
DROP TRIGGER model_routes_notify ON model_routes;
DROP TRIGGER provider_health_notify ON provider_health;
DROP TRIGGER key_health_notify ON key_health;
DROP TRIGGER client_keys_notify ON client_keys;
DROP FUNCTION airouter_notify_change();

CREATE TRIGGER providers_notify AFTER INSERT OR UPDATE OR DELETE ON providers
    FOR EACH STATEMENT EXECUTE FUNCTION airouter_notify_config();
CREATE TRIGGER provider_keys_notify AFTER INSERT OR UPDATE OR DELETE ON provider_keys
    FOR EACH STATEMENT EXECUTE FUNCTION airouter_notify_config();
CREATE TRIGGER models_notify AFTER INSERT OR UPDATE OR DELETE ON models
    FOR EACH STATEMENT EXECUTE FUNCTION airouter_notify_config();
CREATE TRIGGER model_routes_notify AFTER INSERT OR UPDATE OR DELETE ON model_routes
    FOR EACH STATEMENT EXECUTE FUNCTION airouter_notify_config();
CREATE TRIGGER provider_health_notify AFTER INSERT OR UPDATE OR DELETE ON provider_health
    FOR EACH STATEMENT EXECUTE FUNCTION airouter_notify_config();
CREATE TRIGGER key_health_notify AFTER INSERT OR UPDATE OR DELETE ON key_health
    FOR EACH STATEMENT EXECUTE FUNCTION airouter_notify_config();
CREATE TRIGGER client_keys_notify AFTER INSERT OR DELETE OR UPDATE OF name, token_sha256, enabled, allow, rpm, tpm,
    budget_usd, budget_period, budget_hard_stop, expires_at, owner, tags ON client_keys
    FOR EACH STATEMENT EXECUTE FUNCTION airouter_notify_config();
