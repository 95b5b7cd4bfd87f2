export interface Config {
  name: string;
}
