CREATE TABLE "instance_icon" (
	"id" integer PRIMARY KEY DEFAULT 1 NOT NULL,
	"content_type" text NOT NULL,
	"bytes" "bytea" NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "instance_icon_single_row" CHECK ("instance_icon"."id" = 1)
);
--> statement-breakpoint
ALTER TABLE "instance_settings" ADD COLUMN "icon_etag" text;