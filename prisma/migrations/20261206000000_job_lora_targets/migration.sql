-- lora_targets joined the stored hyperparameters; jobs created before it trained the attention projections.
UPDATE "jobs" SET "hyperparameters" = jsonb_build_object('lora_targets', 'attn') || "hyperparameters"
WHERE NOT ("hyperparameters" ? 'lora_targets');
