/** Outcome of asking the dynamic loader for one shared library, in this process. */
export type LoadOutcome = { loaded: true } | { loaded: false; missing: string; message: string };

/**
 * dlopen() through Node's own process.dlopen: a library that is not a Node addon loads, then fails to register
 * ("did not self-register") and is closed again — which proves that it and everything it links were found. A bare
 * name is searched the loader's way (LD_LIBRARY_PATH, the ld.so cache, the system folders), as onnxruntime's is.
 */
export function tryLoadLibrary(nameOrPath: string): LoadOutcome {
  try {
    process.dlopen({ exports: {} } as NodeJS.Module, nameOrPath);
    return { loaded: true };
  } catch (e) {
    const message = (e as Error).message;
    if (/did not self-register|Module did not/i.test(message)) return { loaded: true };
    // glibc: "<library>: cannot open shared object file: No such file or directory" names the first one missing,
    // which may be a dependency of the library asked for.
    const m = /^([^:\s]+): cannot open shared object file/.exec(message);
    return { loaded: false, missing: m ? m[1] : nameOrPath, message };
  }
}
