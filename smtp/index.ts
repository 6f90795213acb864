/** The smtp module: Tcllib smtp 1.5 and a step-by-step session (being written). */
export {};
