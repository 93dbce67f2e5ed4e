-- The next Kafka offset to read per consumer group and partition, written in the same
-- transaction as what the batch changed: the offsets of record, not Kafka's own.
CREATE TABLE consumer_offset (
    grp         text        NOT NULL,
    topic       text        NOT NULL,
    partition   integer     NOT NULL,
    next_offset bigint      NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (grp, topic, partition)
);
