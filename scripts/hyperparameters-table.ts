// Prints the hyperparameter table of packages/contracts as Markdown (the README's hyperparameter section is this output).
import { hyperparameterTableMarkdown } from '@npo/contracts';

console.log(hyperparameterTableMarkdown());
