"""Oracle 10, schema: the databases after the roll against a fresh install of the target,
on dumps written the way `mysqldump --no-data --compact` writes them: what carries no
meaning is ignored, a skipped contract or a lost index is a failure naming it."""

from __future__ import annotations

from harness.checks.oracles import schema
from harness.checks.record import RunRecord
from harness.checks.verdict import FAIL, PASS, UNKNOWN

FRESH = """/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8 */;
CREATE TABLE `instances` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `uuid` varchar(36) NOT NULL,
  `host` varchar(255) DEFAULT NULL,
  `compute_id` bigint(20) DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `uniq_instances0uuid` (`uuid`),
  KEY `instances_host_idx` (`host`),
  CONSTRAINT `fk_instances_compute_id` FOREIGN KEY (`compute_id`) REFERENCES `compute_nodes` (`id`)
) ENGINE=InnoDB AUTO_INCREMENT=1 DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_general_ci;
/*!40101 SET character_set_client = @saved_cs_client */;
CREATE TABLE `tags` (
  `resource_id` varchar(36) NOT NULL,
  `tag` varchar(80) NOT NULL,
  PRIMARY KEY (`resource_id`,`tag`),
  CONSTRAINT `tags_ibfk_1` FOREIGN KEY (`resource_id`) REFERENCES `instances` (`uuid`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_general_ci;
"""


def judged(rolled: str, fresh: str = FRESH):
    return schema.check(RunRecord(schemas={"rolled": {"nova": rolled}, "fresh": {"nova": fresh}}))


def test_a_rolled_schema_equal_but_for_column_order_counters_and_generated_names_passes():
    rolled = (
        FRESH.replace("AUTO_INCREMENT=1 ", "AUTO_INCREMENT=977 ")
        .replace("tags_ibfk_1", "tags_ibfk_3")
        .replace("  `compute_id` bigint(20) DEFAULT NULL,\n", "")
        .replace(
            "  PRIMARY KEY (`id`),\n  UNIQUE",
            "  `compute_id` bigint(20) DEFAULT NULL,\n  PRIMARY KEY (`id`),\n  UNIQUE",
        )
    )
    assert rolled != FRESH
    v = judged(rolled)
    assert v.status == PASS and v.counts == {"databases": 1, "tables": 2, "differences": 0}


def test_a_skipped_contract_leaves_a_column_the_fresh_install_has_not():
    rolled = FRESH.replace(
        "  `host` varchar(255) DEFAULT NULL,\n",
        "  `host` varchar(255) DEFAULT NULL,\n  `display_description` text,\n",
    )
    v = judged(rolled)
    assert v.status == FAIL
    assert v.evidence == [
        {
            "database": "nova",
            "table": "instances",
            "kind": "column",
            "name": "display_description",
            "rolled": "text",
            "fresh": None,
        }
    ]
    assert "nova.instances: column display_description only after the roll" in v.summary


def test_a_changed_type_a_lost_index_and_a_missing_table_are_each_named():
    rolled = FRESH.replace(
        "`uuid` varchar(36) NOT NULL", "`uuid` varchar(36) DEFAULT NULL"
    ).replace("  KEY `instances_host_idx` (`host`),\n", "")
    rolled = rolled.split("CREATE TABLE `tags`")[0]
    found = {(e["table"], e["kind"], e["name"]) for e in judged(rolled).evidence}
    assert found == {
        ("instances", "column", "uuid"),
        ("instances", "key", "instances_host_idx"),
        ("tags", "table", "tags"),
    }


def test_no_dump_is_unknown_and_a_database_without_its_fresh_twin_fails():
    assert schema.check(RunRecord()).status == UNKNOWN
    v = schema.check(RunRecord(schemas={"rolled": {"nova": FRESH}, "fresh": {}}))
    assert v.status == FAIL and v.evidence[0]["kind"] == "database"
