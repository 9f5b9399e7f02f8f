// Files that ship with the package (the bundled model, the CUDA library's build folder), found from
// this module's own location: the sources are src/util/, the build is dist/src/util/.

const here = new URL(".", import.meta.url);
const root = new URL(here.pathname.endsWith("/dist/src/util/") ? "../../../" : "../../", here);

/** Absolute path of a file relative to the package root. */
export function packagePath(relative: string): string {
  return decodeURIComponent(new URL(relative, root).pathname);
}
