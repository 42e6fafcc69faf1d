CREATE TABLE `api_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`name` text NOT NULL,
	`key_hash` text NOT NULL,
	`prefix` text NOT NULL,
	`permissions` text DEFAULT '{}' NOT NULL,
	`is_active` integer DEFAULT true NOT NULL,
	`expires_at` integer,
	`last_used_at` integer,
	`revoked_at` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade,
	CONSTRAINT "api_keys_permissions_check" CHECK(json_valid("permissions")),
	CONSTRAINT "api_keys_is_active_check" CHECK("is_active" IN (0, 1))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_key_hash_unique` ON `api_keys` (`key_hash`);--> statement-breakpoint
CREATE INDEX `api_keys_user_id_is_active_idx` ON `api_keys` (`user_id`,`is_active`);--> statement-breakpoint
CREATE TABLE `asset_jobs` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text,
	`session_id` text,
	`category` text NOT NULL,
	`provider` text,
	`provider_task_id` text,
	`status` text NOT NULL,
	`progress` integer,
	`request` text NOT NULL,
	`request_hash` text NOT NULL,
	`estimated_cost_micro_usd` integer,
	`reserved_micro_usd` integer,
	`cost_micro_usd` integer,
	`asset_id` text,
	`error` text,
	`locked_by` text,
	`locked_until` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`completed_at` integer,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`asset_id`) REFERENCES `assets`(`id`) ON UPDATE no action ON DELETE set null,
	CONSTRAINT "asset_jobs_category_check" CHECK("category" IN ('environment', 'character', 'prop', 'audio', 'texture', 'animation', 'image')),
	CONSTRAINT "asset_jobs_status_check" CHECK("status" IN ('queued', 'processing', 'completed', 'failed')),
	CONSTRAINT "asset_jobs_request_check" CHECK(json_valid("request")),
	CONSTRAINT "asset_jobs_error_check" CHECK(json_valid("error"))
);
--> statement-breakpoint
CREATE INDEX `asset_jobs_user_id_created_at_idx` ON `asset_jobs` (`user_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `asset_jobs_status_locked_until_idx` ON `asset_jobs` (`status`,`locked_until`);--> statement-breakpoint
CREATE INDEX `asset_jobs_request_hash_idx` ON `asset_jobs` (`request_hash`);--> statement-breakpoint
CREATE TABLE `asset_sources` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`source_type` text,
	`source_name` text NOT NULL,
	`api_endpoint` text,
	`is_active` integer DEFAULT true NOT NULL,
	`rate_limit_per_minute` integer,
	`requires_attribution` integer DEFAULT false NOT NULL,
	`cost_per_request_micro_usd` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	CONSTRAINT "asset_sources_source_type_check" CHECK("source_type" IN ('open_source', 'community', 'generated')),
	CONSTRAINT "asset_sources_is_active_check" CHECK("is_active" IN (0, 1)),
	CONSTRAINT "asset_sources_requires_attribution_check" CHECK("requires_attribution" IN (0, 1))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `asset_sources_source_name_unique` ON `asset_sources` (`source_name`);--> statement-breakpoint
CREATE TABLE `asset_usage` (
	`id` text PRIMARY KEY NOT NULL,
	`asset_id` text NOT NULL,
	`user_id` text,
	`usage_type` text NOT NULL,
	`cost_micro_usd` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`asset_id`) REFERENCES `assets`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null,
	CONSTRAINT "asset_usage_usage_type_check" CHECK("usage_type" IN ('download', 'preview', 'reuse'))
);
--> statement-breakpoint
CREATE INDEX `asset_usage_asset_id_created_at_idx` ON `asset_usage` (`asset_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `assets` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text,
	`source_id` integer,
	`session_id` text,
	`category` text NOT NULL,
	`title` text NOT NULL,
	`description` text,
	`style` text,
	`style_tags` text DEFAULT '[]' NOT NULL,
	`provider` text,
	`model` text,
	`file_format` text,
	`content_type` text,
	`size_bytes` integer,
	`sha256` text,
	`storage_key` text NOT NULL,
	`preview_key` text,
	`preview_content_type` text,
	`quality_score` real,
	`license_type` text,
	`attribution_required` integer DEFAULT false NOT NULL,
	`request_hash` text NOT NULL,
	`cost_micro_usd` integer NOT NULL,
	`response` text,
	`metadata` text DEFAULT '{}' NOT NULL,
	`download_count` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`source_id`) REFERENCES `asset_sources`(`id`) ON UPDATE no action ON DELETE set null,
	CONSTRAINT "assets_quality_score_check" CHECK("quality_score" >= 0 AND "quality_score" <= 1),
	CONSTRAINT "assets_category_check" CHECK("category" IN ('environment', 'character', 'prop', 'audio', 'texture', 'animation', 'image')),
	CONSTRAINT "assets_style_tags_check" CHECK(json_valid("style_tags")),
	CONSTRAINT "assets_license_type_check" CHECK("license_type" IN ('creative_commons', 'public_domain', 'custom', 'commercial', 'proprietary')),
	CONSTRAINT "assets_attribution_required_check" CHECK("attribution_required" IN (0, 1)),
	CONSTRAINT "assets_response_check" CHECK(json_valid("response")),
	CONSTRAINT "assets_metadata_check" CHECK(json_valid("metadata"))
);
--> statement-breakpoint
CREATE INDEX `assets_user_id_created_at_idx` ON `assets` (`user_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `assets_request_hash_created_at_idx` ON `assets` (`request_hash`,`created_at`);--> statement-breakpoint
CREATE INDEX `assets_category_created_at_idx` ON `assets` (`category`,`created_at`);--> statement-breakpoint
CREATE TABLE `audit_log` (
	`id` text PRIMARY KEY NOT NULL,
	`occurred_at` integer NOT NULL,
	`actor_type` text NOT NULL,
	`actor_user_id` text,
	`actor_api_key_id` text,
	`event_type` text NOT NULL,
	`target_type` text,
	`target_id` text,
	`target_user_id` text,
	`details` text,
	`request_id` text,
	FOREIGN KEY (`actor_user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null,
	FOREIGN KEY (`target_user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null,
	CONSTRAINT "audit_log_actor_type_check" CHECK("actor_type" IN ('user', 'api_key', 'service', 'system')),
	CONSTRAINT "audit_log_details_check" CHECK(json_valid("details"))
);
--> statement-breakpoint
CREATE INDEX `audit_log_actor_user_id_occurred_at_idx` ON `audit_log` (`actor_user_id`,`occurred_at`);--> statement-breakpoint
CREATE INDEX `audit_log_target_user_id_occurred_at_idx` ON `audit_log` (`target_user_id`,`occurred_at`);--> statement-breakpoint
CREATE INDEX `audit_log_event_type_occurred_at_idx` ON `audit_log` (`event_type`,`occurred_at`);--> statement-breakpoint
CREATE TABLE `auth_sessions` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text,
	`user_agent` text,
	`refreshed_at` integer,
	`revoked_at` integer,
	`revoked_reason` text,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade,
	CONSTRAINT "auth_sessions_revoked_reason_check" CHECK("revoked_reason" IN ('user', 'refresh_token_reuse'))
);
--> statement-breakpoint
CREATE INDEX `auth_sessions_user_id_idx` ON `auth_sessions` (`user_id`);--> statement-breakpoint
CREATE INDEX `auth_sessions_revoked_at_idx` ON `auth_sessions` (`revoked_at`) WHERE "revoked_at" IS NOT NULL;--> statement-breakpoint
CREATE TABLE `chat_messages` (
	`id` text PRIMARY KEY NOT NULL,
	`conversation_id` text NOT NULL,
	`user_id` text NOT NULL,
	`seq` integer NOT NULL,
	`role` text NOT NULL,
	`content` text NOT NULL,
	`status` text DEFAULT 'complete' NOT NULL,
	`finish_reason` text,
	`model` text,
	`provider` text,
	`persona_id` text,
	`input_tokens` integer,
	`output_tokens` integer,
	`tokens_used` integer,
	`cost_usd` real,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`conversation_id`) REFERENCES `conversations`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`persona_id`) REFERENCES `personas`(`id`) ON UPDATE no action ON DELETE set null,
	CONSTRAINT "chat_messages_role_check" CHECK("role" IN ('user', 'assistant', 'system')),
	CONSTRAINT "chat_messages_status_check" CHECK("status" IN ('complete', 'partial', 'error'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `chat_messages_conversation_id_seq_unique` ON `chat_messages` (`conversation_id`,`seq`);--> statement-breakpoint
CREATE INDEX `chat_messages_user_id_created_at_idx` ON `chat_messages` (`user_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `conversations` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`title` text DEFAULT 'New Conversation' NOT NULL,
	`title_locked` integer DEFAULT false NOT NULL,
	`preview` text DEFAULT '' NOT NULL,
	`is_active` integer DEFAULT true NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade,
	CONSTRAINT "conversations_title_locked_check" CHECK("title_locked" IN (0, 1)),
	CONSTRAINT "conversations_is_active_check" CHECK("is_active" IN (0, 1))
);
--> statement-breakpoint
CREATE INDEX `conversations_user_id_is_active_updated_at_idx` ON `conversations` (`user_id`,`is_active`,`updated_at`);--> statement-breakpoint
CREATE TABLE `llm_usage` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text,
	`conversation_id` text,
	`message_id` text,
	`endpoint` text,
	`provider` text,
	`model` text,
	`input_tokens` integer,
	`output_tokens` integer,
	`cost_usd` real,
	`estimated` integer,
	`status` text,
	`latency_ms` integer,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`conversation_id`) REFERENCES `conversations`(`id`) ON UPDATE no action ON DELETE set null,
	FOREIGN KEY (`message_id`) REFERENCES `chat_messages`(`id`) ON UPDATE no action ON DELETE set null,
	CONSTRAINT "llm_usage_estimated_check" CHECK("estimated" IN (0, 1)),
	CONSTRAINT "llm_usage_status_check" CHECK("status" IN ('ok', 'error', 'aborted'))
);
--> statement-breakpoint
CREATE INDEX `llm_usage_user_id_created_at_idx` ON `llm_usage` (`user_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `permissions` (
	`id` text PRIMARY KEY NOT NULL,
	`resource_type` text NOT NULL,
	`resource_path` text DEFAULT '*' NOT NULL,
	`action` text NOT NULL,
	`description` text,
	`created_at` integer NOT NULL,
	CONSTRAINT "permissions_resource_type_check" CHECK("resource_type" IN ('kb', 'api', 'chat', 'asset', 'admin')),
	CONSTRAINT "permissions_action_check" CHECK("action" IN ('read', 'write', 'delete', 'share', 'admin', 'access', 'create', 'users', 'roles', 'permissions', 'system'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `permissions_resource_type_resource_path_action_unique` ON `permissions` (`resource_type`,`resource_path`,`action`);--> statement-breakpoint
CREATE TABLE `personas` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`system_prompt` text NOT NULL,
	`personality_traits` text DEFAULT '{}' NOT NULL,
	`capabilities` text DEFAULT '{}' NOT NULL,
	`preferred_model` text,
	`is_active` integer DEFAULT true NOT NULL,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	CONSTRAINT "personas_personality_traits_check" CHECK(json_valid("personality_traits")),
	CONSTRAINT "personas_capabilities_check" CHECK(json_valid("capabilities")),
	CONSTRAINT "personas_is_active_check" CHECK("is_active" IN (0, 1))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `personas_name_lower_unique` ON `personas` (lower("name"));--> statement-breakpoint
CREATE INDEX `personas_is_active_created_at_idx` ON `personas` (`is_active`,`created_at`);--> statement-breakpoint
CREATE TABLE `refresh_tokens` (
	`id` text PRIMARY KEY NOT NULL,
	`session_id` text,
	`user_id` text,
	`token_hash` text NOT NULL,
	`parent_id` text,
	`used_at` integer,
	`revoked_at` integer,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`session_id`) REFERENCES `auth_sessions`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `refresh_tokens_token_hash_unique` ON `refresh_tokens` (`token_hash`);--> statement-breakpoint
CREATE INDEX `refresh_tokens_session_id_idx` ON `refresh_tokens` (`session_id`);--> statement-breakpoint
CREATE TABLE `resource_permissions` (
	`id` text PRIMARY KEY NOT NULL,
	`resource_type` text NOT NULL,
	`resource_id` text NOT NULL,
	`principal_type` text NOT NULL,
	`principal_id` text NOT NULL,
	`permissions` text DEFAULT '[]' NOT NULL,
	`message` text,
	`granted_by` text,
	`created_at` integer NOT NULL,
	`expires_at` integer,
	FOREIGN KEY (`granted_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null,
	CONSTRAINT "resource_permissions_principal_type_check" CHECK("principal_type" IN ('user', 'team', 'workspace')),
	CONSTRAINT "resource_permissions_permissions_check" CHECK(json_valid("permissions"))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `resource_permissions_resource_principal_unique` ON `resource_permissions` (`resource_type`,`resource_id`,`principal_type`,`principal_id`);--> statement-breakpoint
CREATE INDEX `resource_permissions_principal_type_principal_id_idx` ON `resource_permissions` (`principal_type`,`principal_id`);--> statement-breakpoint
CREATE TABLE `role_permissions` (
	`role_id` text NOT NULL,
	`permission_id` text NOT NULL,
	`granted_at` integer NOT NULL,
	`granted_by` text,
	PRIMARY KEY(`role_id`, `permission_id`),
	FOREIGN KEY (`role_id`) REFERENCES `roles`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`permission_id`) REFERENCES `permissions`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`granted_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE TABLE `roles` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`display_name` text NOT NULL,
	`description` text,
	`role_type` text,
	`is_active` integer DEFAULT true NOT NULL,
	`metadata` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	CONSTRAINT "roles_role_type_check" CHECK("role_type" IN ('system', 'custom', 'team', 'workspace')),
	CONSTRAINT "roles_is_active_check" CHECK("is_active" IN (0, 1)),
	CONSTRAINT "roles_metadata_check" CHECK(json_valid("metadata"))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `roles_name_unique` ON `roles` (`name`);--> statement-breakpoint
CREATE TABLE IF NOT EXISTS `schema_migrations` (
	`version` integer PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`checksum` text NOT NULL,
	`applied_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `team_members` (
	`team_id` text NOT NULL,
	`user_id` text NOT NULL,
	`team_role` text DEFAULT 'member' NOT NULL,
	`joined_at` integer NOT NULL,
	`invited_by` text,
	PRIMARY KEY(`team_id`, `user_id`),
	FOREIGN KEY (`team_id`) REFERENCES `teams`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`invited_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null,
	CONSTRAINT "team_members_team_role_check" CHECK("team_role" IN ('owner', 'admin', 'member', 'viewer'))
);
--> statement-breakpoint
CREATE INDEX `team_members_user_id_idx` ON `team_members` (`user_id`);--> statement-breakpoint
CREATE TABLE `teams` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`display_name` text NOT NULL,
	`description` text,
	`parent_team_id` text,
	`metadata` text,
	`is_active` integer DEFAULT true NOT NULL,
	`created_by` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`parent_team_id`) REFERENCES `teams`(`id`) ON UPDATE no action ON DELETE set null,
	FOREIGN KEY (`created_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null,
	CONSTRAINT "teams_metadata_check" CHECK(json_valid("metadata")),
	CONSTRAINT "teams_is_active_check" CHECK("is_active" IN (0, 1))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `teams_name_unique` ON `teams` (`name`);--> statement-breakpoint
CREATE TABLE `user_persona_preferences` (
	`user_id` text PRIMARY KEY NOT NULL,
	`persona_id` text NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`persona_id`) REFERENCES `personas`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `user_persona_preferences_persona_id_idx` ON `user_persona_preferences` (`persona_id`);--> statement-breakpoint
CREATE TABLE `user_roles` (
	`user_id` text NOT NULL,
	`role_id` text NOT NULL,
	`context_type` text DEFAULT 'global' NOT NULL,
	`context_id` text DEFAULT 'global' NOT NULL,
	`assigned_at` integer NOT NULL,
	`assigned_by` text,
	`expires_at` integer,
	PRIMARY KEY(`user_id`, `role_id`, `context_type`, `context_id`),
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`role_id`) REFERENCES `roles`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`assigned_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null,
	CONSTRAINT "user_roles_context_type_check" CHECK("context_type" IN ('global', 'team', 'workspace', 'resource'))
);
--> statement-breakpoint
CREATE INDEX `user_roles_user_id_idx` ON `user_roles` (`user_id`);--> statement-breakpoint
CREATE INDEX `user_roles_context_type_context_id_idx` ON `user_roles` (`context_type`,`context_id`);--> statement-breakpoint
CREATE TABLE `users` (
	`id` text PRIMARY KEY NOT NULL,
	`email` text,
	`name` text,
	`password_hash` text,
	`email_confirmed_at` integer,
	`app_metadata` text DEFAULT '{"provider":"email","providers":["email"]}' NOT NULL,
	`user_metadata` text DEFAULT '{}' NOT NULL,
	`last_sign_in_at` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	CONSTRAINT "users_app_metadata_check" CHECK(json_valid("app_metadata")),
	CONSTRAINT "users_user_metadata_check" CHECK(json_valid("user_metadata"))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `users_email_unique` ON `users` (`email`);--> statement-breakpoint
CREATE TABLE `workspace_members` (
	`workspace_id` text NOT NULL,
	`user_id` text NOT NULL,
	`joined_at` integer NOT NULL,
	`invited_by` text,
	PRIMARY KEY(`workspace_id`, `user_id`),
	FOREIGN KEY (`workspace_id`) REFERENCES `workspaces`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`invited_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE INDEX `workspace_members_user_id_idx` ON `workspace_members` (`user_id`);--> statement-breakpoint
CREATE TABLE `workspaces` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`display_name` text NOT NULL,
	`description` text,
	`workspace_type` text,
	`status` text DEFAULT 'active' NOT NULL,
	`metadata` text,
	`created_by` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`archived_at` integer,
	`expires_at` integer,
	FOREIGN KEY (`created_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null,
	CONSTRAINT "workspaces_workspace_type_check" CHECK("workspace_type" IN ('project', 'incident', 'research')),
	CONSTRAINT "workspaces_status_check" CHECK("status" IN ('active', 'archived', 'completed')),
	CONSTRAINT "workspaces_metadata_check" CHECK(json_valid("metadata"))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `workspaces_name_unique` ON `workspaces` (`name`);