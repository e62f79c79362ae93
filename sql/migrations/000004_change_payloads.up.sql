-- Notifications name what changed, so a replica reloads only that part:
--   {"kind":"provider","id":P}            a provider row
--   {"kind":"key","id":K,"provider":P}    a provider key
--   {"kind":"model","id":M}               a model, or one of its routes
--   {"kind":"client_key","id":C}          a client key
--   {"kind":"health","provider":P,"key":K,...}  current health, with the row
--                                         itself, so applying it needs no query
-- Row-level triggers replace the statement-level ones of 000001; PostgreSQL
-- folds identical payloads of one transaction into one notification.
CREATE OR REPLACE FUNCTION airouter_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
    CASE TG_TABLE_NAME
    WHEN 'providers' THEN
        PERFORM pg_notify('airouter_config', json_build_object('kind', 'provider', 'id', r.id)::text);
    WHEN 'provider_keys' THEN
        PERFORM pg_notify('airouter_config', json_build_object('kind', 'key', 'id', r.id, 'provider', r.provider_id)::text);
        IF TG_OP = 'UPDATE' AND OLD.provider_id <> NEW.provider_id THEN
            PERFORM pg_notify('airouter_config', json_build_object('kind', 'key', 'id', OLD.id, 'provider', OLD.provider_id)::text);
        END IF;
    WHEN 'models' THEN
        PERFORM pg_notify('airouter_config', json_build_object('kind', 'model', 'id', r.id)::text);
    WHEN 'model_routes' THEN
        PERFORM pg_notify('airouter_config', json_build_object('kind', 'model', 'id', r.model_id)::text);
        IF TG_OP = 'UPDATE' AND OLD.model_id <> NEW.model_id THEN
            PERFORM pg_notify('airouter_config', json_build_object('kind', 'model', 'id', OLD.model_id)::text);
        END IF;
    WHEN 'client_keys' THEN
        PERFORM pg_notify('airouter_config', json_build_object('kind', 'client_key', 'id', r.id)::text);
    WHEN 'provider_health' THEN
        PERFORM pg_notify('airouter_config', json_build_object('kind', 'health', 'provider', r.provider_id, 'key', 0,
            'deleted', TG_OP = 'DELETE', 'status', r.status, 'checked_at', r.checked_at, 'latency_ms', r.latency_ms,
            'failures', r.consecutive_failures, 'error', left(r.last_error, 1000))::text);
    WHEN 'key_health' THEN
        PERFORM pg_notify('airouter_config', json_build_object('kind', 'health', 'provider', r.provider_id, 'key', r.key_id,
            'deleted', TG_OP = 'DELETE', 'status', r.status, 'checked_at', r.checked_at, 'latency_ms', r.latency_ms,
            'failures', r.consecutive_failures, 'error', left(r.last_error, 1000))::text);
    ELSE
        PERFORM pg_notify('airouter_config', TG_TABLE_NAME);
    END CASE;
    RETURN NULL;
END;
$$;

DROP TRIGGER providers_notify ON providers;
DROP TRIGGER provider_keys_notify ON provider_keys;
DROP TRIGGER models_notify ON models;
DROP TRIGGER model_routes_notify ON model_routes;
DROP TRIGGER provider_health_notify ON provider_health;
DROP TRIGGER key_health_notify ON key_health;
DROP TRIGGER client_keys_notify ON client_keys;

CREATE TRIGGER providers_notify AFTER INSERT OR UPDATE OR DELETE ON providers
    FOR EACH ROW EXECUTE FUNCTION airouter_notify_change();
CREATE TRIGGER provider_keys_notify AFTER INSERT OR UPDATE OR DELETE ON provider_keys
    FOR EACH ROW EXECUTE FUNCTION airouter_notify_change();
CREATE TRIGGER models_notify AFTER INSERT OR UPDATE OR DELETE ON models
    FOR EACH ROW EXECUTE FUNCTION airouter_notify_change();
CREATE TRIGGER model_routes_notify AFTER INSERT OR UPDATE OR DELETE ON model_routes
    FOR EACH ROW EXECUTE FUNCTION airouter_notify_change();
CREATE TRIGGER provider_health_notify AFTER INSERT OR UPDATE OR DELETE ON provider_health
    FOR EACH ROW EXECUTE FUNCTION airouter_notify_change();
CREATE TRIGGER key_health_notify AFTER INSERT OR UPDATE OR DELETE ON key_health
    FOR EACH ROW EXECUTE FUNCTION airouter_notify_change();
-- last_used_at updates do not change routing, so they do not notify.
CREATE TRIGGER client_keys_notify AFTER INSERT OR DELETE OR UPDATE OF name, token_sha256, enabled, allow, rpm, tpm,
    budget_usd, budget_period, budget_hard_stop, expires_at, owner, tags ON client_keys
    FOR EACH ROW EXECUTE FUNCTION airouter_notify_change();
