import { defineConfig } from 'vite';

// Built by `npm install` (prepare) into console/dist, which EventFlow serves at /console/.
export default defineConfig({
  root: import.meta.dirname,
  base: '/console/',
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
});
