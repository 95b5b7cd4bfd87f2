export default 1;
export const other = 2;
