-- A job row stores its complete, resolved hyperparameters (the worker and the trainer never resolve them again).
-- Rows written before the trainer-only values were stored get the defaults the trainer used for them then.
UPDATE "jobs" SET "hyperparameters" = jsonb_build_object('weight_decay', 0.01, 'prompt_dropout', 0, 'gradient_accumulation_steps', 1) || "hyperparameters"
WHERE NOT ("hyperparameters" ? 'weight_decay' AND "hyperparameters" ? 'prompt_dropout' AND "hyperparameters" ? 'gradient_accumulation_steps');
