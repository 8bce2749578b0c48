CREATE TABLE "consumer_group_secrets" (
	"id" uuid PRIMARY KEY NOT NULL,
	"group_id" uuid NOT NULL,
	"secret_encrypted" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"retired_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "delivery_attempts" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "delivery_attempts_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"group_id" uuid NOT NULL,
	"stream_id" uuid NOT NULL,
	"seq" bigint NOT NULL,
	"event_id" uuid NOT NULL,
	"attempt" integer NOT NULL,
	"status" text NOT NULL,
	"status_code" integer,
	"error" text,
	"response_body" text,
	"duration_ms" integer NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "delivery_retries" (
	"group_id" uuid NOT NULL,
	"stream_id" uuid NOT NULL,
	"seq" bigint NOT NULL,
	"event_id" uuid NOT NULL,
	"attempts" integer NOT NULL,
	"budget_used" integer NOT NULL,
	"next_attempt_at" timestamp with time zone NOT NULL,
	"last_error" text,
	"last_status_code" integer,
	"dead_letter_id" uuid,
	CONSTRAINT "delivery_retries_group_id_stream_id_seq_pk" PRIMARY KEY("group_id","stream_id","seq")
);
--> statement-breakpoint
ALTER TABLE "consumer_offsets" ADD COLUMN "cursor_seq" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "consumer_offsets" ADD COLUMN "generation" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "consumer_group_secrets" ADD CONSTRAINT "consumer_group_secrets_group_id_consumer_groups_id_fk" FOREIGN KEY ("group_id") REFERENCES "public"."consumer_groups"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "delivery_attempts" ADD CONSTRAINT "delivery_attempts_group_id_consumer_groups_id_fk" FOREIGN KEY ("group_id") REFERENCES "public"."consumer_groups"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "delivery_attempts" ADD CONSTRAINT "delivery_attempts_stream_id_event_streams_id_fk" FOREIGN KEY ("stream_id") REFERENCES "public"."event_streams"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "delivery_retries" ADD CONSTRAINT "delivery_retries_group_id_consumer_groups_id_fk" FOREIGN KEY ("group_id") REFERENCES "public"."consumer_groups"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "delivery_retries" ADD CONSTRAINT "delivery_retries_stream_id_event_streams_id_fk" FOREIGN KEY ("stream_id") REFERENCES "public"."event_streams"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "consumer_group_secrets_group_idx" ON "consumer_group_secrets" USING btree ("group_id","created_at");--> statement-breakpoint
CREATE INDEX "delivery_attempts_group_idx" ON "delivery_attempts" USING btree ("group_id","id");--> statement-breakpoint
CREATE INDEX "delivery_retries_due_idx" ON "delivery_retries" USING btree ("group_id","next_attempt_at");