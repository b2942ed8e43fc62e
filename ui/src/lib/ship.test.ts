import { expect, it } from "vitest";
import { ciLabel, ciLine, findingKind, orList, pullLabel, pullName, shortSha } from "./ship";

it("names pull and merge requests as their forge does", () => {
  expect(pullLabel({ forge: "github", number: 12 })).toBe("PR #12");
  expect(pullLabel({ forge: "gitlab", number: 3 })).toBe("MR !3");
  expect(pullName({ forge: "gitlab", number: 3 })).toBe("merge request !3");
  expect(shortSha("0123456789abcdef")).toBe("0123456");
});

it("says where CI stands", () => {
  expect(ciLabel({ state: "pending", done: 0, total: 0 })).toBe("CI pending");
  expect(ciLabel({ state: "pending", done: 1, total: 3 })).toBe("CI pending 1/3");
  expect(ciLabel({ state: "passed", done: 3, total: 3 })).toBe("CI passed");
  expect(ciLabel({ state: "failed", done: 3, total: 3 })).toBe("CI failed");
  const checks = [
    { name: "lint", state: "passed" },
    { name: "test", state: "failed" },
    { name: "docs", state: "failed" },
  ];
  expect(ciLine({ sha: "abcdef0123", state: "failed", done: 3, total: 3, checks })).toBe(
    "CI failed on abcdef0: test, docs",
  );
  expect(ciLine({ sha: "abcdef0123", state: "pending", done: 1, total: 3, checks })).toBe("CI pending 1/3 on abcdef0");
});

it("words scan findings and lists", () => {
  expect(findingKind("aws_access_key")).toBe("AWS access key");
  expect(findingKind("something_new")).toBe("something new");
  expect(orList(["A"])).toBe("A");
  expect(orList(["A", "B"])).toBe("A or B");
  expect(orList(["A", "B", "C"])).toBe("A, B or C");
});
