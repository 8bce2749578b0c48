-- Events are the source of truth: once appended, never changed or removed.
-- drizzle cannot express triggers, so this migration is written by hand.
CREATE FUNCTION eventflow_refuse_event_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'events are immutable: % refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER events_refuse_update_delete
  BEFORE UPDATE OR DELETE ON "events"
  FOR EACH ROW EXECUTE FUNCTION eventflow_refuse_event_change();
--> statement-breakpoint
CREATE TRIGGER events_refuse_truncate
  BEFORE TRUNCATE ON "events"
  FOR EACH STATEMENT EXECUTE FUNCTION eventflow_refuse_event_change();
