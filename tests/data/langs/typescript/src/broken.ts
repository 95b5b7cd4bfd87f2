export function good(): number {
  return 1;
}
export class Bad {
  method( {
    let x = ;
}
