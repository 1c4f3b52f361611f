/**
 * One model parameter as a named Float32Array: a dense kernel/bias or an embedding table.
 * Same shape as the registry's `NamedWeight` (the registry stores these as artifacts);
 * defined here too because the model stage must not import later stages.
 *
 * Names: `user.embedding` / `item.embedding` / `token.embedding` ([rows, dim]),
 * `user.dense.0.kernel` ([in, out]), `user.dense.0.bias` ([out]), ... for each tower.
 */
export interface NamedWeight {
  name: string;
  kind: 'dense' | 'table';
  shape: number[];
  data: Float32Array;
}
