// `ranksort --version`: the version in the package's own package.json.
import { readFileSync } from "node:fs";
import { packagePath } from "../util/package_root.ts";

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(packagePath("package.json"), "utf8")) as { name: string; version: string };
  return `${pkg.name} ${pkg.version}`;
}
