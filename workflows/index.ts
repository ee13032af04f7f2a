export { researchLoop } from './researchLoop';
