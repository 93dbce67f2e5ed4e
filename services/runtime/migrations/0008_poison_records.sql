-- The records a consumer group set aside as poison (`runtime.poison`): the processor failed on
-- each of them alone, so it was skipped instead of stopping the partition. Written in the
-- transaction that stored the group's offsets past it; kept with its key, value and error so
-- that it can be looked into and replayed once the bug is fixed.
CREATE TABLE poison_record (
    grp        text        NOT NULL,
    topic      text        NOT NULL,
    partition  integer     NOT NULL,
    "offset"   bigint      NOT NULL,  -- quoted: OFFSET is a reserved word
    key        bytea,
    value      bytea,
    error      text        NOT NULL,
    at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (grp, topic, partition, "offset")
);
