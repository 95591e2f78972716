"""A PTP hardware clock as the reference: a device that is missing, or is no PHC, stops smeard
at start with exit 1 and one error naming the config line and column of `device`."""

import re
import tempfile
import unittest

import harness


def config(device):
    port = harness.free_udp_port()
    lines = ["listeners:", f'  - address: "127.0.0.1:{port}"', "    timescale: utc",
             "timescales:", "  utc:", "    smear: none",
             "reference:", "  type: phc", f"  device: {device}",  # line 9, the value at column 11
             "metrics: {listen: off}", ""]
    return "\n".join(lines)


class PhcReference(unittest.TestCase):
    def refused(self, device):
        with tempfile.TemporaryDirectory(prefix="smeard-itest-") as directory:
            path = harness.write_file(directory, "smeard.yaml", config(device))
            result = harness.run([harness.binary(harness.SMEARD), "--config", path], timeout=10)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertNotIn("event=listening", result.stderr)
        failures = [harness.parse_log_line(l) for l in result.stderr.splitlines() if "event=reference_failed" in l]
        self.assertEqual(len(failures), 1, result.stderr)
        problem = failures[0]["problem"]
        self.assertRegex(problem, "^" + re.escape(f"{path}:9:11: reference.device: "))
        return problem

    def test_not_a_phc(self):
        self.assertTrue(self.refused("/dev/null").endswith(
            "reference.device: /dev/null is not a PTP hardware clock: PTP_CLOCK_GETCAPS: "
            "Inappropriate ioctl for device"))

    def test_missing_device(self):
        self.assertTrue(self.refused("/dev/ptp77").endswith(
            "reference.device: /dev/ptp77: cannot open: No such file or directory"))


if __name__ == "__main__":
    unittest.main()
