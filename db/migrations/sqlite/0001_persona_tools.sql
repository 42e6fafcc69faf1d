ALTER TABLE `chat_messages` ADD `tool_calls` text CONSTRAINT "chat_messages_tool_calls_check" CHECK(json_valid("tool_calls"));--> statement-breakpoint
ALTER TABLE `personas` ADD `tools` text CONSTRAINT "personas_tools_check" CHECK(json_valid("tools"));
