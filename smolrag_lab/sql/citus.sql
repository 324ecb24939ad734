-- Distributing a smolrag_lab database over Citus (distributed PostgreSQL).
-- UNTESTED: Citus cannot be installed on this project's machines. Run once, after the engine has
-- created its tables (open the index once) and before ingesting at scale.
-- Every table carries the workspace, the natural distribution key: one index's rows stay together.

SELECT create_distributed_table('smolrag_kv', 'workspace');
SELECT create_distributed_table('smolrag_entities', 'workspace', colocate_with => 'smolrag_kv');
-- Recursive neighbourhood queries join the edge table with itself; on distributed tables Citus needs
-- them to filter on the distribution key, so the edges are a reference table (copied to every node).
SELECT create_reference_table('smolrag_edges');
-- One vector table per embedding dimension; repeat for each smolrag_vectors_<dim> that exists.
SELECT create_distributed_table('smolrag_vectors_384', 'workspace', colocate_with => 'smolrag_kv');
-- Citus does not forward session settings to the workers: set the search breadth per database.
ALTER DATABASE current SET hnsw.ef_search = 64;
ALTER DATABASE current SET hnsw.iterative_scan = strict_order;
