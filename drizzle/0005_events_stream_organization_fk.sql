-- One foreign key for an event's stream and organization (the stream's own): the unique
-- key it refers to comes first.
ALTER TABLE "event_streams" ADD CONSTRAINT "event_streams_id_organization_key" UNIQUE("id","organization_id");--> statement-breakpoint
ALTER TABLE "events" DROP CONSTRAINT "events_stream_id_event_streams_id_fk";--> statement-breakpoint
ALTER TABLE "events" DROP CONSTRAINT "events_organization_id_organizations_id_fk";--> statement-breakpoint
ALTER TABLE "events" ADD CONSTRAINT "events_stream_organization_fk" FOREIGN KEY ("stream_id","organization_id") REFERENCES "public"."event_streams"("id","organization_id") ON DELETE no action ON UPDATE no action;
